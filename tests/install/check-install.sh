#!/usr/bin/env bash
# Installs a built tree into a scratch prefix and checks that it serves consumers:
# the expected files are there, and a small C program that calls the library builds
# and runs both through pkg-config and through CMake's find_package(ktls).
#
# usage: check-install.sh BUILD_DIR
set -euo pipefail

build_dir=$(cd "${1:?usage: check-install.sh BUILD_DIR}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ktls-install-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

fail() {
  echo "check-install: FAIL: $*" >&2
  exit 1
}

cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log" >&2; fail "cmake --install"; }

# GNUInstallDirs may choose lib/ or a multiarch lib/<triplet>/.
lib=$(find "$prefix" -name libktls.so -print -quit)
[ -n "$lib" ] || fail "libktls.so not installed"
libdir=$(dirname "$lib")
for f in "$prefix/include/ktls/version.h" "$prefix/bin/ktls" "$libdir/pkgconfig/ktls.pc" \
         "$libdir/cmake/ktls/ktlsConfig.cmake" "$libdir/cmake/ktls/ktlsConfigVersion.cmake"; do
  [ -e "$f" ] || fail "missing ${f#"$prefix"/}"
done

expected=$("$prefix/bin/ktls" --version)
[ -n "$expected" ] || fail "ktls --version printed nothing"

mkdir -p "$work/consumer"
cat >"$work/consumer/consumer.c" <<'C'
#include <ktls/version.h>
#include <stdio.h>

int main(void) {
  puts(ktls_version());
  return 0;
}
C

# 1. pkg-config, with the .pc found only through the installed tree.
flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs ktls) ||
  fail "pkg-config does not know ktls"
# shellcheck disable=SC2086  # the flags are a list of words
cc -o "$work/consumer/by-pkg-config" "$work/consumer/consumer.c" $flags ||
  fail "building with pkg-config flags: $flags"
got=$(LD_LIBRARY_PATH="$libdir" "$work/consumer/by-pkg-config")
[ "$got" = "$expected" ] || fail "pkg-config consumer printed '$got', expected '$expected'"
echo "check-install: pkg-config consumer ok ($flags)"

# 2. CMake package.
cat >"$work/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(ktls_consumer LANGUAGES C)
find_package(ktls 0.1 CONFIG REQUIRED)
add_executable(by-cmake consumer.c)
target_link_libraries(by-cmake PRIVATE ktls::ktls)
CMAKE
cmake -S "$work/consumer" -B "$work/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" \
  >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; fail "configuring the CMake consumer"; }
cmake --build "$work/consumer/build" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; fail "building the CMake consumer"; }
# CMake puts the imported library's directory in the build RPATH.
got=$("$work/consumer/build/by-cmake")
[ "$got" = "$expected" ] || fail "CMake consumer printed '$got', expected '$expected'"
echo "check-install: CMake find_package(ktls) consumer ok"

echo "check-install: all checks passed"
