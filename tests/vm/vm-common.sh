# shellcheck shell=bash
# What the VM tests share: the tools, Debian's cloud kernel (it has the TLS ULP this
# machine's kernel lacks), a busybox initramfs with the tls module and the AEADs it
# uses, the boot under QEMU and the verdict line. Sourced, after `set -euo pipefail`
# and with vm_name set (the log prefix), by run-vm-tests.sh and run-vm-preload-tests.sh:
#
#   vm_find_tools           qemu, a static busybox, apt-get/dpkg-deb, depmod
#   vm_fetch_kernel         the kernel package, fetched once into $cache
#   vm_start_initramfs      $work (removed at exit), $initrd with /bin/busybox
#   vm_add_modules WHEN     tls and the AEAD modules, loaded by /init in dependency
#                           order; WHEN `later` leaves tls.ko for the test to insmod
#   vm_write_init COMMAND   /init: mounts, modules, COMMAND, poweroff
#   vm_boot SECONDS         packs and boots the initramfs; the console in $serial
#   vm_check_verdict        the console's "KTLS-VM: N passed, M failed" line
#
# The kernel package is fetched once into $KTLS_VM_CACHE (default: build/vm-cache in the
# source tree) with `apt-get download`; KTLS_VM_KERNEL_PACKAGE picks another package,
# KTLS_VM_QEMU another qemu-system-x86_64. Exit 77 (skip) only when QEMU, a static
# busybox or the kernel package cannot be had here.

readonly kSkip=77
vm_source_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${KTLS_VM_CACHE:-$vm_source_root/build/vm-cache}

log() { echo "${vm_name:-vm}: $*"; }
skip() { log "SKIP: $*"; exit "$kSkip"; }
die() { log "FAIL: $*"; exit 1; }

# grep reads everything (no -q): an early exit would fail the pipe under pipefail.
is_dynamic() { readelf -l "$1" 2>/dev/null | grep 'Requesting program interpreter' >/dev/null; }

# --- Tools (scripts/install-deps.sh installs them). ---
vm_find_tools() {
  qemu=${KTLS_VM_QEMU:-$(command -v qemu-system-x86_64 || true)}
  if [ -z "$qemu" ] || [ ! -x "$qemu" ]; then
    skip "qemu-system-x86_64 not installed (Debian package qemu-system-x86)"
  fi
  busybox=""
  local candidate tool
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
}

# --- The kernel: the one linux-image-cloud-amd64 points to, fetched and unpacked once. ---
vm_find_kernel_package() {
  local meta
  meta=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
         sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\(-unsigned\)\?\)$/\1/p' | head -n1)
  if [ -z "$meta" ]; then
    meta=$(apt-cache search --names-only '^linux-image-[0-9].*-cloud-amd64(-unsigned)?$' 2>/dev/null |
           awk '{print $1}' | sort -V | tail -n1)
  fi
  echo "$meta"
}

vm_first_entry() {  # DIR [GLOB]: the first name in DIR (matching GLOB), sorted
  find "$1" -mindepth 1 -maxdepth 1 -name "${2:-*}" -printf '%f\n' | sort | head -n1
}

# Sets package, root, version, kernel and modules.
vm_fetch_kernel() {
  mkdir -p "$cache"
  cache=$(cd "$cache" && pwd)
  # One fetch at a time: build trees share the cache.
  exec 9>"$cache/.lock"
  flock 9 2>/dev/null || true
  package=${KTLS_VM_KERNEL_PACKAGE:-}
  if [ -z "$package" ] && [ -f "$cache/kernel-package" ]; then
    package=$(cat "$cache/kernel-package")
  fi
  if [ -z "$package" ] || [ ! -f "$cache/$package/ready" ]; then
    [ -n "$package" ] || package=$(vm_find_kernel_package)
    if [ -z "$package" ] && [ "$(id -u)" -eq 0 ]; then
      apt-get update -qq >/dev/null 2>&1 || true
      package=$(vm_find_kernel_package)
    fi
    [ -n "$package" ] || skip "no linux-image-*-cloud-amd64 package known to apt"
    log "fetching $package"
    rm -rf "${cache:?}/$package"
    mkdir -p "$cache/$package/download"
    (cd "$cache/$package/download" && apt-get download "$package" >/dev/null 2>&1) ||
      skip "apt-get download $package failed"
    local deb
    deb=$(find "$cache/$package/download" -maxdepth 1 -name '*.deb' | head -n1)
    [ -n "$deb" ] || skip "apt-get download $package left no .deb"
    dpkg-deb -x "$deb" "$cache/$package/root" || die "cannot unpack $deb"
    rm -f "$deb"
    version=$(vm_first_entry "$cache/$package/root/lib/modules")
    [ -n "$version" ] || die "$package has no modules"
    "${depmod_cmd[@]}" -b "$cache/$package/root" "$version" || die "depmod failed"
    touch "$cache/$package/ready"
    echo "$package" > "$cache/kernel-package"
  fi
  exec 9>&-
  root=$cache/$package/root
  version=$(vm_first_entry "$root/lib/modules")
  kernel=$root/boot/$(vm_first_entry "$root/boot" 'vmlinuz-*')
  [ -f "$kernel" ] || die "$package has no /boot/vmlinuz-*"
  modules=$root/lib/modules/$version
}

# --- The initramfs. ---
vm_start_initramfs() {
  work=$(mktemp -d "$cache/initramfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  initrd=$work/root
  mkdir -p "$initrd"/{bin,dev,proc,sys,tmp,lib/modules}
  cp "$busybox" "$initrd/bin/busybox"
}

vm_module_path() {  # modules.dep path of a module name ('-' and '_' are the same)
  local pattern=${1//[-_]/[-_]}
  { grep -E "(^|/)${pattern}\.ko(\.(xz|zst|gz))?:" "$modules/modules.dep" || true; } |
    head -n1 | cut -d: -f1
}

vm_load_order=()
vm_add_module() {  # a module after its dependencies, each once
  local path=$1 line dep
  for dep in "${vm_load_order[@]}"; do [ "$dep" = "$path" ] && return 0; done
  line=$({ grep -E "^${path//./\\.}:" "$modules/modules.dep" || true; } | head -n1)
  for dep in $(echo "${line#*:}" | tr ' ' '\n' | tac); do vm_add_module "$dep"; done
  vm_load_order+=("$path")
}

# tls, then what TLS_TX/TLS_RX instantiate: gcm(aes) and rfc7539(chacha20,poly1305).
# Names missing from modules.dep are built in (or renamed) on that kernel: skipped.
# /modules.load lists them for /init. WHEN: `now`, or `later`: tls.ko goes to
# /modules.later instead (its dependencies, if any, stay in /modules.load).
vm_add_modules() {
  local defer_tls=$1
  local wanted=(tls gcm ctr ghash-generic ghash-clmulni-intel aesni-intel
                chacha20poly1305 chacha-generic chacha-x86_64 poly1305-generic poly1305-x86_64)
  local name path plain unpack
  [ -n "$(vm_module_path tls)" ] || die "$package has no tls module"
  for name in "${wanted[@]}"; do
    path=$(vm_module_path "$name")
    if [ -n "$path" ]; then vm_add_module "$path"; fi
  done
  : > "$initrd/modules.load"
  : > "$initrd/modules.later"
  for path in "${vm_load_order[@]}"; do
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
    if [ "$plain" = tls.ko ] && [ "$defer_tls" = later ]; then
      echo "$plain" >> "$initrd/modules.later"
    else
      echo "$plain" >> "$initrd/modules.load"
    fi
  done
}

# /init: proc, sysfs, devtmpfs, a tmpfs /tmp, the modules, then COMMAND (a shell
# command line) and its exit status, then power off.
vm_write_init() {
  cat > "$initrd/init" <<EOF
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox mount -t tmpfs tmpfs /tmp
echo  # off the firmware's last line
for m in \$(/bin/busybox cat /modules.load); do
  # A CPU without AES-NI refuses aesni-intel; the generic modules cover it.
  /bin/busybox insmod "/lib/modules/\$m" 2>/dev/null || echo "KTLS-VM-NOTE: insmod \$m failed"
done
$1
echo "KTLS-VM-EXIT: \$?"
/bin/busybox poweroff -f
EOF
  chmod +x "$initrd/init"
}

# The console without carriage returns and the firmware's terminal escapes.
vm_console() { tr -d '\r' < "$serial" | sed -E 's/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b.//g'; }

# Packs $initrd and boots it, TCG unless this host lets us use KVM; fails when the VM
# does not power off within SECONDS. Keeps the console in $cache/logs/LOG_NAME.
vm_boot() {
  local limit=$1 log_name=${2:-last-serial.log}
  (cd "$initrd" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"
  local accel=(-accel tcg)
  [ -w /dev/kvm ] && accel=(-accel kvm -accel tcg)
  serial=$work/serial.log
  log "booting $(basename "$kernel") ($package) under QEMU"
  local started elapsed_ms
  started=$(date +%s%N)
  set +e
  timeout "$limit" "$qemu" -nographic -no-reboot -m 512 -smp 1 -cpu max "${accel[@]}" -nic none \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 panic=-1 quiet loglevel=3" </dev/null >"$serial" 2>&1
  qemu_status=$?
  set -e
  elapsed_ms=$((($(date +%s%N) - started) / 1000000))
  vm_elapsed=$((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000)))
  mkdir -p "$cache/logs" && cp "$serial" "$cache/logs/$log_name"
  vm_console | grep -E '^(PASS|FAIL|KTLS-VM|cases took)' || true
  log "VM run took ${vm_elapsed}s (qemu exit $qemu_status); serial log: $cache/logs/$log_name"
  [ "$qemu_status" -ne 124 ] || die "the VM did not finish within $limit s"
}

vm_check_verdict() {
  local verdict passed failed
  verdict=$(vm_console | grep -E '^KTLS-VM: [0-9]+ passed, [0-9]+ failed$' | tail -n1)
  if [ -z "$verdict" ]; then
    vm_console | tail -n 30
    die "no verdict line in the serial output"
  fi
  passed=$(echo "$verdict" | sed -E 's/^KTLS-VM: ([0-9]+) passed.*/\1/')
  failed=$(echo "$verdict" | sed -E 's/.* ([0-9]+) failed$/\1/')
  if [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then die "$failed case(s) failed"; fi
  log "all $passed cases passed"
}
