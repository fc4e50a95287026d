#!/usr/bin/env bash
# Boots Debian's cloud kernel (which has the TLS ULP this machine's kernel lacks) under
# QEMU with a busybox initramfs, runs the static kernel_ktls_interop program there and
# checks its verdict line.
#
#   tests/vm/run-vm-tests.sh PROGRAM
#
# PROGRAM: the statically linked tests/vm/kernel_ktls_interop (built by CMake).
# The kernel package is fetched once into $KTLS_VM_CACHE (default: build/vm-cache in the
# source tree) with `apt-get download`; KTLS_VM_KERNEL_PACKAGE picks another package.
# Exit: 0 all cases passed, 1 a case failed or the VM misbehaved, 77 (skip) only when
# QEMU, a static busybox or the kernel package cannot be had here. KTLS_VM_QEMU names
# another qemu-system-x86_64.
set -euo pipefail

readonly kSkip=77
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_root=$(cd "$here/../.." && pwd)
cache=${KTLS_VM_CACHE:-$source_root/build/vm-cache}

log() { echo "run-vm-tests: $*"; }
skip() { log "SKIP: $*"; exit "$kSkip"; }
die() { log "FAIL: $*"; exit 1; }

# grep reads everything (no -q): an early exit would fail the pipe under pipefail.
is_dynamic() { readelf -l "$1" 2>/dev/null | grep 'Requesting program interpreter' >/dev/null; }

[ $# -eq 1 ] || die "usage: $0 PROGRAM"
program=$1
[ -x "$program" ] || die "no test program at $program"
if is_dynamic "$program"; then
  die "$program is dynamically linked; the initramfs has no shared libraries"
fi

# --- Tools (scripts/install-deps.sh installs them). ---
qemu=${KTLS_VM_QEMU:-$(command -v qemu-system-x86_64 || true)}
[ -n "$qemu" ] && [ -x "$qemu" ] ||
  skip "qemu-system-x86_64 not installed (Debian package qemu-system-x86)"
busybox=""
for candidate in /bin/busybox /usr/bin/busybox "$(command -v busybox || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && ! is_dynamic "$candidate"; then
    busybox=$candidate
    break
  fi
done
[ -n "$busybox" ] || skip "no statically linked busybox (Debian package busybox-static)"
for tool in apt-get apt-cache dpkg-deb gzip; do
  command -v "$tool" >/dev/null || skip "$tool not found"
done
depmod_cmd=(depmod)
command -v depmod >/dev/null || depmod_cmd=("$busybox" depmod)

# --- The kernel: the one linux-image-cloud-amd64 points to, fetched and unpacked once. ---
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

find_kernel_package() {
  local meta
  meta=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
         sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\(-unsigned\)\?\)$/\1/p' | head -n1)
  if [ -z "$meta" ]; then
    meta=$(apt-cache search --names-only '^linux-image-[0-9].*-cloud-amd64(-unsigned)?$' 2>/dev/null |
           awk '{print $1}' | sort -V | tail -n1)
  fi
  echo "$meta"
}

# One fetch at a time: build trees share the cache.
exec 9>"$cache/.lock"
flock 9 2>/dev/null || true
package=${KTLS_VM_KERNEL_PACKAGE:-}
if [ -z "$package" ] && [ -f "$cache/kernel-package" ]; then
  package=$(cat "$cache/kernel-package")
fi
if [ -z "$package" ] || [ ! -f "$cache/$package/ready" ]; then
  [ -n "$package" ] || package=$(find_kernel_package)
  if [ -z "$package" ] && [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    package=$(find_kernel_package)
  fi
  [ -n "$package" ] || skip "no linux-image-*-cloud-amd64 package known to apt"
  log "fetching $package"
  rm -rf "${cache:?}/$package"
  mkdir -p "$cache/$package/download"
  (cd "$cache/$package/download" && apt-get download "$package" >/dev/null 2>&1) ||
    skip "apt-get download $package failed"
  deb=$(ls "$cache/$package/download/"*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || skip "apt-get download $package left no .deb"
  dpkg-deb -x "$deb" "$cache/$package/root" || die "cannot unpack $deb"
  rm -f "$deb"
  version=$(ls "$cache/$package/root/lib/modules" | head -n1)
  [ -n "$version" ] || die "$package has no modules"
  "${depmod_cmd[@]}" -b "$cache/$package/root" "$version" || die "depmod failed"
  touch "$cache/$package/ready"
  echo "$package" > "$cache/kernel-package"
fi
exec 9>&-
root=$cache/$package/root
version=$(ls "$root/lib/modules" | head -n1)
kernel=$(ls "$root/boot/vmlinuz-"* | head -n1)
modules=$root/lib/modules/$version

# --- The initramfs: busybox, the program, the tls module and the AEADs it uses. ---
work=$(mktemp -d "$cache/initramfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
initrd=$work/root
mkdir -p "$initrd"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$busybox" "$initrd/bin/busybox"
if command -v strip >/dev/null; then
  strip -o "$initrd/bin/kernel_ktls_interop" "$program"
else
  cp "$program" "$initrd/bin/kernel_ktls_interop"
fi

# tls, then what TLS_TX/TLS_RX instantiate: gcm(aes) and rfc7539(chacha20,poly1305).
# Names missing from modules.dep are built in (or renamed) on that kernel: skipped.
wanted=(tls gcm ctr ghash-generic ghash-clmulni-intel aesni-intel
        chacha20poly1305 chacha-generic chacha-x86_64 poly1305-generic poly1305-x86_64)
module_path() {  # modules.dep path of a module name ('-' and '_' are the same)
  local pattern=${1//[-_]/[-_]}
  { grep -E "(^|/)${pattern}\.ko(\.(xz|zst|gz))?:" "$modules/modules.dep" || true; } |
    head -n1 | cut -d: -f1
}
load_order=()
add_module() {  # a module after its dependencies, each once
  local path=$1 line dep
  for dep in "${load_order[@]}"; do [ "$dep" = "$path" ] && return 0; done
  line=$({ grep -E "^${path//./\\.}:" "$modules/modules.dep" || true; } | head -n1)
  for dep in $(echo "${line#*:}" | tr ' ' '\n' | tac); do add_module "$dep"; done
  load_order+=("$path")
}
[ -n "$(module_path tls)" ] || die "$package has no tls module"
for name in "${wanted[@]}"; do
  path=$(module_path "$name")
  if [ -n "$path" ]; then add_module "$path"; fi
done
: > "$initrd/modules.load"
for path in "${load_order[@]}"; do
  # busybox insmod wants plain .ko files.
  name=$(basename "$path"); plain=${name%%.ko*}.ko
  case "$name" in
    *.ko.xz) unpack=(xz -dc) ;;
    *.ko.zst) unpack=(zstd -qdc) ;;
    *.ko.gz) unpack=(gzip -dc) ;;
    *) unpack=(cat) ;;
  esac
  "${unpack[@]}" "$modules/$path" > "$initrd/lib/modules/$plain" ||
    die "cannot unpack $path (${unpack[0]} missing?)"
  echo "$plain" >> "$initrd/modules.load"
done

cat > "$initrd/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox mount -t tmpfs tmpfs /tmp
for m in $(/bin/busybox cat /modules.load); do
  # A CPU without AES-NI refuses aesni-intel; the generic modules cover it.
  /bin/busybox insmod "/lib/modules/$m" 2>/dev/null || echo "KTLS-VM-NOTE: insmod $m failed"
done
/bin/kernel_ktls_interop
echo "KTLS-VM-EXIT: $?"
/bin/busybox poweroff -f
EOF
chmod +x "$initrd/init"
(cd "$initrd" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"

# --- Boot. TCG unless this host lets us use KVM. ---
accel=(-accel tcg)
[ -w /dev/kvm ] && accel=(-accel kvm -accel tcg)
serial=$work/serial.log
log "booting $(basename "$kernel") ($package) under QEMU"
started=$(date +%s%N)
set +e
timeout 120 "$qemu" -nographic -no-reboot -m 512 -smp 1 -cpu max "${accel[@]}" -nic none \
  -kernel "$kernel" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3" </dev/null >"$serial" 2>&1
qemu_status=$?
set -e
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
elapsed=$((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000)))
mkdir -p "$cache/logs" && cp "$serial" "$cache/logs/last-serial.log"

# The console without carriage returns and the firmware's terminal escapes.
console() { tr -d '\r' < "$serial" | sed -E 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b.//g'; }
console | grep -E '^(PASS|FAIL|KTLS-VM|cases took)' || true
log "VM run took ${elapsed}s (qemu exit $qemu_status); serial log: $cache/logs/last-serial.log"
[ "$qemu_status" -ne 124 ] || die "the VM did not finish within 120 s"
verdict=$(console | grep -E '^KTLS-VM: [0-9]+ passed, [0-9]+ failed$' | tail -n1)
if [ -z "$verdict" ]; then
  console | tail -n 30
  die "no verdict line in the serial output"
fi
passed=$(echo "$verdict" | sed -E 's/^KTLS-VM: ([0-9]+) passed.*/\1/')
failed=$(echo "$verdict" | sed -E 's/.* ([0-9]+) failed$/\1/')
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] || die "$failed case(s) failed"
log "all $passed cases passed"
