#!/usr/bin/env bash
# libktls-preload.so's auto mode on a kernel that really has the TLS ULP. Boots Debian's
# cloud kernel under QEMU (vm-common.sh) with an initramfs that also carries what a
# dynamically linked program needs: the dynamic loader, this host's openssl and every
# shared library it and the interposer load (as ldd finds them), OpenSSL's configuration
# plus the file `ktls run` would write (Options = KTLS), and a test certificate. Inside,
# preload_auto_vm.sh serves a file with `openssl s_server -WWW -sendfile` under the
# interposer and checks, with the kernel's /proc/net/tls_stat and the interposer's
# KTLS_STATS_FILE, that auto mode hands the keys to the kernel when it has the ULP and
# keeps them when it has not, that KTLS_PRELOAD_MODE=sw keeps them always, and that
# kern.ipc.tls.enable=0 keeps kTLS off altogether.
#
#   tests/vm/run-vm-preload-tests.sh PRELOAD_LIBRARY
#
# PRELOAD_LIBRARY: the built libktls-preload.so. KTLS_VM_OPENSSL names another openssl
# (default /usr/bin/openssl). Exit: 0 all cases passed, 1 a case failed or the VM
# misbehaved, 77 (skip) only when QEMU, a static busybox or the kernel package cannot be
# had here (see vm-common.sh for KTLS_VM_CACHE, KTLS_VM_KERNEL_PACKAGE, KTLS_VM_QEMU).
set -euo pipefail

vm_name=run-vm-preload-tests
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/vm/vm-common.sh
source "$here/vm-common.sh"

[ $# -eq 1 ] || die "usage: $0 PRELOAD_LIBRARY"
preload=$1
[ -f "$preload" ] || die "no interposer at $preload"
openssl=${KTLS_VM_OPENSSL:-/usr/bin/openssl}
[ -x "$openssl" ] || die "no $openssl (Debian package openssl)"
is_dynamic "$openssl" || die "$openssl is statically linked: LD_PRELOAD cannot reach it"
command -v ldd >/dev/null || die "ldd not found"

vm_find_tools
vm_fetch_kernel
vm_start_initramfs
vm_add_modules later  # the test loads tls itself, after a case without it

# ELF FILE at DEST in the initramfs (debug sections dropped where strip can).
copy_elf() {
  mkdir -p "$initrd$(dirname "$2")"
  if ! { command -v strip >/dev/null && strip --strip-unneeded -o "$initrd$2" "$1"; }; then
    cp -L "$1" "$initrd$2"
  fi
}

# The dynamic loader and the shared libraries FILE needs, each at its host path.
copy_libraries() {
  local listing path
  listing=$(ldd "$1") || die "ldd $1 failed"
  if grep 'not found' <<<"$listing" >/dev/null; then
    die "$1: $(grep 'not found' <<<"$listing" | tr -s ' \t' ' ')"
  fi
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$listing" |
    while read -r path; do
      [ -e "$initrd$path" ] || copy_elf "$path" "$path"
    done
}

copy_elf "$openssl" /usr/bin/openssl
copy_elf "$preload" /lib/libktls-preload.so
copy_libraries "$openssl"
copy_libraries "$preload"

# OpenSSL's configuration where this openssl looks for it, and what `ktls run` adds
# (tools/ktls/openssl_ktls_config.cc): an .include of it plus Options = KTLS in the
# system_default SSL section that the base file's openssl_conf -> ssl_conf ->
# system_default chain names (or ours where it names none).
ssl_dir=$("$openssl" version -d | sed -n 's/^OPENSSLDIR: "\(.*\)"$/\1/p')
[ -n "$ssl_dir" ] || die "$openssl version -d names no OPENSSLDIR"
base=$ssl_dir/openssl.cnf
mkdir -p "$initrd$ssl_dir" "$initrd/etc/ktls"
if [ -r "$base" ]; then
  cp -L "$base" "$initrd$base"
  chain=$(awk '
    function trim(s) { sub(/^[ \t\r]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
    function get(section, key, fallback) {
      return ((section, key) in conf && conf[section, key] != "") ? conf[section, key] : fallback
    }
    BEGIN { section = "default" }
    {
      line = $0; sub(/#.*/, "", line); line = trim(line)
      if (line == "" || line ~ /^\./) next
      if (line ~ /^\[.*\]$/) { section = trim(substr(line, 2, length(line) - 2)); next }
      eq = index(line, "=")
      if (eq) conf[section, trim(substr(line, 1, eq - 1))] = trim(substr(line, eq + 1))
    }
    END {
      init = get("default", "openssl_conf", "ktls_openssl_init")
      ssl = get(init, "ssl_conf", "ktls_ssl_module")
      defaults = get(ssl, "system_default", "ktls_system_default")
      options = get(defaults, "Options", "")
      if (("," options ",") !~ /,[ \t]*KTLS[ \t]*,/) options = options == "" ? "KTLS" : options ",KTLS"
      print init, ssl, defaults, options
    }' "$base")
  read -r init ssl defaults options <<<"$chain"
  include=".include $base"
else
  init=ktls_openssl_init ssl=ktls_ssl_module defaults=ktls_system_default options=KTLS
  include=""
fi
cat > "$initrd/etc/ktls/openssl-ktls.cnf" <<EOF
# As \`ktls run\` writes it: ${base} plus kernel TLS (Options = KTLS)
# for every SSL_CTX that takes the system defaults.
openssl_conf = $init
$include

[$init]
ssl_conf = $ssl

[$ssl]
system_default = $defaults

[$defaults]
Options = $options
EOF

# The server's certificate: P-256, quick to sign with under TCG.
mkdir -p "$initrd/test"
"$openssl" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$initrd/test/key.pem" -out "$initrd/test/cert.pem" -days 2 -subj /CN=localhost \
  >/dev/null 2>&1 || die "openssl req failed"
cp "$here/preload_auto_vm.sh" "$initrd/test/preload_auto_vm.sh"
vm_write_init "/bin/busybox sh /test/preload_auto_vm.sh"

vm_boot 180 last-preload-serial.log
vm_check_verdict
