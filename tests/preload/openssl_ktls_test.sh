#!/usr/bin/env bash
# Unmodified `openssl s_server` / `s_client` under `ktls run`: the interposer must carry
# their records (our counters show records sealed/opened), OpenSSL must believe it has
# kernel TLS, and every byte must arrive intact (SHA-256) in both directions.
#
# usage: openssl_ktls_test.sh KTLS_BINARY SIDES VERSION CIPHER
#   SIDES    server | client | both   which side(s) run under `ktls run`; the other side
#                                      is a plain openssl (user-space TLS) peer
#            split                     both, server --tx-only and client --rx-only
#   VERSION  1.2 | 1.3
#   CIPHER   an OpenSSL cipher (1.2) or ciphersuite (1.3) name
#
# Two exchanges per run, each bounded by `timeout`, on 127.0.0.1 with ephemeral ports:
#   rev  s_server -rev echoes each line reversed: ~200 KB each way through write/read
#        (TX) and recvmsg (RX).
#   www  s_server -WWW -sendfile serves a 1 MiB binary file: SSL_sendfile -> sendfile(2)
#        on the server, bulk records to the client.
set -euo pipefail

ktls=$(realpath "${1:?usage: openssl_ktls_test.sh KTLS_BINARY SIDES VERSION CIPHER}")
sides=${2:?sides}
version=${3:?version}
cipher=${4:?cipher}

work=$(mktemp -d "${TMPDIR:-/tmp}/ktls-preload-test.XXXXXX")
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL [$sides TLS$version $cipher]: $*" >&2
  for f in "$work"/*.err; do
    [ -s "$f" ] && { echo "--- $(basename "$f")" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}

case "$version" in
  1.2) suite_args=(-tls1_2 -cipher "$cipher") ;;
  1.3) suite_args=(-tls1_3 -ciphersuites "$cipher") ;;
  *) fail "unknown version $version" ;;
esac

server_wrap=()
client_wrap=()
case "$sides" in
  server) server_wrap=("$ktls" run -v --) ;;
  client) client_wrap=("$ktls" run -v --) ;;
  both) server_wrap=("$ktls" run -v --); client_wrap=("$ktls" run -v --) ;;
  split) server_wrap=("$ktls" run -v --tx-only --); client_wrap=("$ktls" run -v --rx-only --) ;;
  *) fail "unknown sides $sides" ;;
esac

cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
  -subj /CN=localhost >/dev/null 2>&1 || fail "openssl req"

# Starts s_server with ARGS in the background and sets $port from its ACCEPT line.
start_server() {
  local name=$1
  shift
  KTLS_STATS_FILE="$work/$name.server.stats" timeout 30 \
    "${server_wrap[@]}" openssl s_server -accept 127.0.0.1:0 -cert "$work/cert.pem" \
    -key "$work/key.pem" -naccept 1 "${suite_args[@]}" "$@" \
    >"$work/$name.server.out" 2>"$work/$name.server.err" &
  server_pid=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$work/$name.server.out" | head -1)
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || fail "$name: s_server exited early"
    sleep 0.05
  done
  fail "$name: s_server did not report its port"
}

run_client() {
  local name=$1 input=$2
  KTLS_STATS_FILE="$work/$name.client.stats" timeout 30 \
    "${client_wrap[@]}" openssl s_client -connect "127.0.0.1:$port" -servername localhost \
    -quiet -ign_eof "${suite_args[@]}" <"$input" >"$name.client.out" 2>"$name.client.err" ||
    fail "$name: s_client exited with $?"
  wait "$server_pid" || fail "$name: s_server exited with $?"
  server_pid=
}

stat_of() {  # FILE NAME
  sed -n "s/^$2=//p" "$1" 2>/dev/null | head -1
}

# The side(s) under `ktls run` must show our records, in the directions OpenSSL 3.0
# offloads (TLS 1.3: transmit only) and `ktls run` allowed.
check_side() {  # EXCHANGE ROLE ALLOW_TX ALLOW_RX
  local name=$1 role=$2 allow_tx=$3 allow_rx=$4
  local stats="$work/$name.$role.stats" err="$work/$name.$role.err"
  [ -f "$stats" ] || fail "$name: $role wrote no KTLS_STATS_FILE ($(ls "$work"))"
  [ "$(stat_of "$stats" sockets_emulated)" -ge 1 ] || fail "$name: $role: no socket took our ULP"
  local tx rx
  tx=$(stat_of "$stats" tx_records)
  rx=$(stat_of "$stats" rx_records)
  if [ "$allow_tx" = 1 ]; then
    [ "$tx" -gt 0 ] || fail "$name: $role sealed no records"
  else
    [ "$tx" -eq 0 ] || fail "$name: $role sealed records although TX was refused"
    [ "$(stat_of "$stats" refused)" -ge 1 ] || fail "$name: $role: TLS_TX not refused"
  fi
  if [ "$allow_rx" = 1 ] && [ "$version" = 1.2 ]; then
    [ "$rx" -gt 0 ] || fail "$name: $role opened no records"
  else
    [ "$rx" -eq 0 ] || fail "$name: $role opened records although RX is not offloaded"
  fi
  [ "$(stat_of "$stats" rx_errors)" -eq 0 ] || fail "$name: $role: receive errors"
  [ "$(stat_of "$stats" tx_errors)" -eq 0 ] || fail "$name: $role: send errors"
  grep -q "^ktls\[[0-9]* openssl\]: 1 socket(s) offloaded" "$err" ||
    fail "$name: $role: no -v summary on stderr"
  if [ "$role" = client ]; then
    # OpenSSL's own view: it thinks the kernel does its TLS.
    if [ "$allow_tx" = 1 ]; then
      grep -q "Using Kernel TLS for sending" "$err" || fail "$name: OpenSSL did not enable kTLS TX"
    fi
    if [ "$allow_rx" = 1 ] && [ "$version" = 1.2 ]; then
      grep -q "Using Kernel TLS for receiving" "$err" || fail "$name: OpenSSL did not enable kTLS RX"
    fi
  fi
}

check_sides() {  # EXCHANGE
  case "$sides" in
    server) check_side "$1" server 1 1 ;;
    client) check_side "$1" client 1 1 ;;
    both) check_side "$1" server 1 1; check_side "$1" client 1 1 ;;
    split) check_side "$1" server 1 0; check_side "$1" client 0 1 ;;
  esac
}

# --- rev: data both ways -----------------------------------------------------------
python3 - <<'PY' >rev.in
import base64, random
rng = random.Random(20261126)
total = 0
while total < 200000:
    n = rng.choice([1, 7, 80, 1000, 4000, 12000])
    line = base64.b64encode(rng.randbytes(n)).decode()[:n]
    print(line)
    total += n + 1
PY
rev rev.in >rev.expected
printf 'CLOSE\n' >>rev.in
start_server rev -rev
run_client rev rev.in
[ "$(sha256sum <rev.client.out | cut -d' ' -f1)" = "$(sha256sum <rev.expected | cut -d' ' -f1)" ] ||
  fail "rev: reply differs ($(wc -c <rev.client.out) bytes, expected $(wc -c <rev.expected))"
check_sides rev

# --- www: a file through SSL_sendfile ------------------------------------------------
mkdir www
head -c 1048576 /dev/urandom >www/blob.bin
printf 'GET /blob.bin HTTP/1.0\r\n\r\n' >www.in
cd www  # -WWW serves files from the current directory
start_server www -WWW -sendfile
cd "$work"
run_client www www.in
body_sha=$(python3 -c '
import hashlib, sys
data = open(sys.argv[1], "rb").read()
print(hashlib.sha256(data[data.find(b"\r\n\r\n") + 4:]).hexdigest())' www.client.out)
[ "$body_sha" = "$(sha256sum <www/blob.bin | cut -d' ' -f1)" ] || fail "www: body differs"
check_sides www

echo "PASS [$sides TLS$version $cipher]"
