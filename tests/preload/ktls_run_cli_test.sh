#!/usr/bin/env bash
# `ktls run` itself: the environment it sets up, and clear refusals where LD_PRELOAD
# cannot work (static programs, set-user-ID programs, missing commands).
#
# usage: ktls_run_cli_test.sh KTLS_BINARY
set -euo pipefail

ktls=$(realpath "${1:?usage: ktls_run_cli_test.sh KTLS_BINARY}")
work=$(mktemp -d "${TMPDIR:-/tmp}/ktls-run-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# The environment the program sees.
out=$(timeout 10 "$ktls" run --tx-only -- sh -c 'echo "$LD_PRELOAD|$OPENSSL_CONF|$KTLS_PRELOAD_DIRECTIONS"')
IFS='|' read -r preload conf directions <<<"$out"
case "$preload" in
  /*libktls-preload.so*) ;;
  *) fail "LD_PRELOAD is '$preload'" ;;
esac
[ -f "${preload%%:*}" ] || fail "LD_PRELOAD names a missing file"
[ "$directions" = tx ] || fail "--tx-only gave directions '$directions'"
grep -q '^Options = .*KTLS' "$conf" || fail "$conf does not enable KTLS"
base=$(openssl version -d | sed 's/^OPENSSLDIR: "\(.*\)"$/\1/')/openssl.cnf
if [ -f "$base" ]; then
  grep -qF ".include $base" "$conf" || fail "$conf does not include $base"
fi
# OpenSSL accepts the file and sees the option (the openssl tool loads OPENSSL_CONF).
OPENSSL_CONF=$conf openssl version >/dev/null 2>&1 || fail "openssl rejects $conf"

# Arguments that look like options belong to the program.
out=$(timeout 10 "$ktls" run -- printf '%s,' -v --rx-only)
[ "$out" = "-v,--rx-only," ] || fail "arguments were not passed through: '$out'"

expect_refusal() {  # CODE PATTERN COMMAND...
  local code=$1 pattern=$2
  shift 2
  local rc=0
  timeout 10 "$ktls" run -- "$@" >"$work/out" 2>"$work/err" || rc=$?
  [ "$rc" = "$code" ] || fail "'$*' exited $rc, expected $code ($(cat "$work/err"))"
  grep -q "$pattern" "$work/err" || fail "'$*': no '$pattern' in: $(cat "$work/err")"
}

expect_refusal 127 "command not found" ktls-no-such-command-here

# A statically linked program (Debian's ldconfig is static-pie), directly and as the
# interpreter of a script.
if [ -x /sbin/ldconfig ] && ! readelf -l /sbin/ldconfig 2>/dev/null | grep -q INTERP; then
  expect_refusal 126 "statically linked" /sbin/ldconfig
  printf '#!/sbin/ldconfig\n' >"$work/script"
  chmod +x "$work/script"
  expect_refusal 126 "statically linked" "$work/script"
fi

# A set-user-ID program owned by someone else (needs root to create).
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  cp /bin/true "$work/suid-true"
  chown nobody "$work/suid-true"
  chmod 4755 "$work/suid-true"
  expect_refusal 126 "set-user-ID" "$work/suid-true"
fi

echo "PASS ktls run"
