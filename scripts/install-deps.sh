#!/usr/bin/env bash
# Installs the Debian packages ktls builds, tests and runs with; only the missing ones.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  clang lld libclang-rt-dev clang-format clang-tidy
  libssl-dev openssl libipsec-mb-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev
  curl python3
  # tests/bench: checks the benchmark's PNG chart with zlib, independently of its encoder.
  zlib1g-dev
  # tests/vm: boots Debian's cloud kernel (it has the TLS ULP) under QEMU with a busybox
  # initramfs; kmod's depmod indexes the kernel's modules.
  qemu-system-x86 busybox-static kmod
  # tests/preload drives Debian's nginx under `ktls run`; the benchmark `ktls bench serve` too.
  nginx
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "ktls: installing Debian packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "ktls: need root to install packages (run as root or install them by hand)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Installing a service starts it (nginx on port 80) through invoke-rc.d unless a
# policy-rc.d says no (101: action forbidden); ours lives only while apt-get runs.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
  trap 'exit 1' HUP INT TERM
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}"
