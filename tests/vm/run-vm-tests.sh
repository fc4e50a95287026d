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
# another qemu-system-x86_64. The kernel, initramfs and boot code is vm-common.sh's.
set -euo pipefail

vm_name=run-vm-tests
# shellcheck source=tests/vm/vm-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/vm-common.sh"

[ $# -eq 1 ] || die "usage: $0 PROGRAM"
program=$1
[ -x "$program" ] || die "no test program at $program"
if is_dynamic "$program"; then
  die "$program is dynamically linked; the initramfs has no shared libraries"
fi

vm_find_tools
vm_fetch_kernel

# --- The initramfs: busybox, the program, the tls module and the AEADs it uses. ---
vm_start_initramfs
if command -v strip >/dev/null; then
  strip -o "$initrd/bin/kernel_ktls_interop" "$program"
else
  cp "$program" "$initrd/bin/kernel_ktls_interop"
fi
vm_add_modules now
vm_write_init /bin/kernel_ktls_interop

vm_boot 120 last-serial.log
vm_check_verdict
