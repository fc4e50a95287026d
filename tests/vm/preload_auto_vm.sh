#!/bin/busybox sh
# shellcheck shell=sh
# Runs as /init's child inside the VM that run-vm-preload-tests.sh boots (Debian's cloud
# kernel, which has the TLS ULP): Debian's own openssl s_server, dynamically linked,
# under LD_PRELOAD=libktls-preload.so with OpenSSL configured as `ktls run` configures it
# (Options = KTLS), serves a 600001-byte file with -WWW -sendfile to openssl s_client.
# Every case checks the body's SHA-256 and who sealed the server's records:
#   kernel  the kernel's /proc/net/tls_stat counted the sessions (TlsTxSw, and TlsRxSw
#           where OpenSSL 3.0 offloads receive: TLS 1.2), and the interposer's
#           KTLS_STATS_FILE shows the socket went to the kernel's ULP and no record
#           through our engine;
#   ours    the stats show the socket emulated and its records sealed by our engine,
#           and the kernel's counters did not move;
#   openssl neither: OpenSSL's own user-space TLS (no kTLS at all).
# Cases, in this order:
#   1. KTLS_PRELOAD_MODE=auto before the tls module is loaded: TCP_ULP fails with ENOENT,
#      so auto falls back to our engine (ours);
#   2. insmod tls, then auto with TLS 1.2 and 1.3, AES-128-GCM and ChaCha20-Poly1305,
#      against a plain (user-space TLS) client (kernel), and once with the client under
#      the interposer in auto mode too (kernel, both sides); and auto with
#      kern.ipc.tls.enable=0 (KTLS_SYSCTL), which rules out the kernel's ULP too (openssl);
#   3. KTLS_PRELOAD_MODE=sw, the switch that keeps the keys from the kernel, TLS 1.2 and
#      1.3 AES-128-GCM (ours).
# Prints PASS/FAIL per case and "KTLS-VM: N passed, M failed".

/bin/busybox --install -s /bin
PATH=/bin:/usr/bin
export PATH

lib=/lib/libktls-preload.so
conf=/etc/ktls/openssl-ktls.cnf
size=600001
records=$(((size + 16383) / 16384))
passed=0
failed=0
case_no=0

log_lines() {  # LABEL FILE: the file's last lines on the console
  [ -r "$2" ] || return 0
  tail -n 15 "$2" | sed "s|^|KTLS-VM-LOG: $1: |"
}

# The kernel's TLS counter NAME (Linux's Documentation/networking/tls.rst), or "absent"
# while the tls module is not loaded.
kstat() {
  if [ -r /proc/net/tls_stat ]; then
    awk -v name="$1" '$1 == name { print $2 }' /proc/net/tls_stat
  else
    echo absent
  fi
}

stat_of() {  # FILE NAME: a KTLS_STATS_FILE counter, or -1
  value=$(sed -n "s/^$2=//p" "$1" 2>/dev/null | head -n1)
  echo "${value:--1}"
}

error=""
expect() {  # MESSAGE TEST-ARGS...: the first unmet expectation is the case's error
  message=$1
  shift
  if ! test "$@" 2>/dev/null; then
    [ -n "$error" ] || error=$message
  fi
}

# run_case SERVER_MODE CLIENT VERSION CIPHER SEALER [SERVER_ENV]
#   SERVER_MODE  the server's KTLS_PRELOAD_MODE (auto | sw)
#   CLIENT       plain (no interposer: OpenSSL's user-space TLS) | auto (interposer)
#   SEALER       who must seal the server's records: kernel | ours | openssl (no kTLS)
#   SERVER_ENV   one more NAME=VALUE for the server
run_case() {
  mode=$1 client=$2 version=$3 cipher=$4 sealer=$5 server_env=${6:-}
  case_no=$((case_no + 1))
  label="[$phase] tls$version $cipher server=$mode client=$client: $sealer"
  [ -z "$server_env" ] || label="$label ($server_env)"
  dir=/tmp/case$case_no
  mkdir -p "$dir"
  # Unquoted below: the options and cipher names have no blanks.
  suite="-tls1_3 -ciphersuites $cipher"
  [ "$version" = 1.3 ] || suite="-tls1_2 -cipher $cipher"
  tx0=$(kstat TlsTxSw) rx0=$(kstat TlsRxSw) decrypt0=$(kstat TlsDecryptError)
  current0="$(kstat TlsCurrTxSw)/$(kstat TlsCurrRxSw)"

  # shellcheck disable=SC2086 # $suite: several options
  (cd /tmp/www && exec env ${server_env:+"$server_env"} LD_PRELOAD=$lib OPENSSL_CONF=$conf \
    KTLS_PRELOAD_MODE="$mode" KTLS_PRELOAD_VERBOSE=1 KTLS_STATS_FILE="$dir/server.stats" \
    timeout 30 openssl s_server -accept 127.0.0.1:0 -cert /test/cert.pem \
    -key /test/key.pem -naccept 1 -WWW -sendfile $suite \
    >"$dir/server.out" 2>"$dir/server.err") &
  server=$!
  port=""
  tries=0
  while [ -z "$port" ] && [ "$tries" -lt 300 ] && kill -0 "$server" 2>/dev/null; do
    sleep 0.1
    port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$dir/server.out" | head -n1)
    tries=$((tries + 1))
  done
  error=""
  if [ -z "$port" ]; then
    error="s_server did not report its port"
    kill "$server" 2>/dev/null
  else
    set --
    if [ "$client" = auto ]; then
      set -- LD_PRELOAD=$lib OPENSSL_CONF=$conf KTLS_PRELOAD_MODE=auto \
        KTLS_STATS_FILE="$dir/client.stats"
    fi
    # -ign_eof: read until the server closes, whatever stdin does.
    # shellcheck disable=SC2086 # $suite: several options
    printf 'GET /data HTTP/1.0\r\n\r\n' |
      timeout 30 env "$@" openssl s_client -connect "127.0.0.1:$port" -servername localhost \
      -quiet -ign_eof $suite >"$dir/client.out" 2>"$dir/client.err"
    client_status=$?
    expect "s_client exited with $client_status" "$client_status" -eq 0
  fi
  wait "$server"
  server_status=$?
  expect "s_server exited with $server_status" "$server_status" -eq 0
  [ -n "$port" ] || { report; return; }

  got=$(sha256sum <"$dir/client.out" | cut -d' ' -f1)
  expect "the body differs ($(wc -c <"$dir/client.out") bytes received)" "$got" = "$expected"
  # OpenSSL's own view: it believes the kernel does its TLS, whoever really does.
  sendfile=$(grep "KTLS SENDFILE 'data' OK" "$dir/server.err")
  if [ "$sealer" = openssl ]; then
    expect "s_server used kTLS" -z "$sendfile"
  else
    expect "s_server did not send the file with SSL_sendfile over kTLS" -n "$sendfile"
  fi
  stats=$dir/server.stats
  expect "the server wrote no KTLS_STATS_FILE" -f "$stats"
  expect "our engine counted receive errors" "$(stat_of "$stats" rx_errors)" -eq 0
  expect "our engine counted send errors" "$(stat_of "$stats" tx_errors)" -eq 0
  sides=1
  [ "$client" = plain ] || sides=2
  rx_sides=0
  [ "$version" = 1.3 ] || rx_sides=$sides  # OpenSSL 3.0: TLS 1.3 transmit only
  tx1=$(kstat TlsTxSw) rx1=$(kstat TlsRxSw)
  if [ "$sealer" = kernel ]; then
    expect "the server's socket did not get the kernel's ULP" \
      "$(stat_of "$stats" sockets_kernel)" -ge 1
    expect "the server's socket was emulated" "$(stat_of "$stats" sockets_emulated)" -eq 0
    expect "our engine took the server's TLS_TX" "$(stat_of "$stats" tx_offloaded)" -eq 0
    expect "our engine sealed records" "$(stat_of "$stats" tx_records)" -eq 0
    expect "our engine opened records" "$(stat_of "$stats" rx_records)" -eq 0
    expect "no -v summary with a kernel ULP socket on s_server's stderr" -n "$(grep -E \
      'ktls\[[0-9]+ openssl\]: 0 socket\(s\) offloaded .*kernel ULP [1-9]' "$dir/server.err")"
    expect "kernel TlsTxSw went $tx0 -> $tx1, want +$sides" "$tx1" -eq $((tx0 + sides))
    expect "kernel TlsRxSw went $rx0 -> $rx1, want +$rx_sides" "$rx1" -eq $((rx0 + rx_sides))
    expect "kernel TlsDecryptError grew" "$(kstat TlsDecryptError)" -eq "$decrypt0"
    current="$(kstat TlsCurrTxSw)/$(kstat TlsCurrRxSw)"
    expect "kernel sessions left open: TlsCurrTxSw/TlsCurrRxSw $current0 -> $current" \
      "$current" = "$current0"
    if [ "$client" = auto ]; then
      cstats=$dir/client.stats
      expect "the client's socket did not get the kernel's ULP" \
        "$(stat_of "$cstats" sockets_kernel)" -ge 1
      expect "the client's socket was emulated" "$(stat_of "$cstats" sockets_emulated)" -eq 0
      expect "s_client did not enable kTLS receive" \
        -n "$(grep 'Using Kernel TLS for receiving' "$dir/client.err")"
    fi
  elif [ "$sealer" = openssl ]; then
    expect "the server did not ask for the TLS ULP" "$(stat_of "$stats" ulp_requests)" -ge 1
    expect "the server's socket got the kernel's ULP" "$(stat_of "$stats" sockets_kernel)" -eq 0
    expect "the server's socket was emulated" "$(stat_of "$stats" sockets_emulated)" -eq 0
    expect "kernel TlsTxSw went $tx0 -> $tx1, want +0" "$tx1" -eq "$tx0"
    expect "kernel TlsRxSw went $rx0 -> $rx1, want +0" "$rx1" -eq "$rx0"
  else
    expect "the server's socket was not emulated" "$(stat_of "$stats" sockets_emulated)" -ge 1
    expect "the server's socket got the kernel's ULP" "$(stat_of "$stats" sockets_kernel)" -eq 0
    expect "our engine did not take TLS_TX" "$(stat_of "$stats" tx_offloaded)" -eq 1
    expect "our engine took TLS_RX $(stat_of "$stats" rx_offloaded) times, want $rx_sides" \
      "$(stat_of "$stats" rx_offloaded)" -eq "$rx_sides"
    expect "our engine sealed $(stat_of "$stats" tx_records) records, want >= $records" \
      "$(stat_of "$stats" tx_records)" -ge "$records"
    expect "our engine sealed $(stat_of "$stats" tx_bytes) bytes, want >= $size" \
      "$(stat_of "$stats" tx_bytes)" -ge "$size"
    expect "no -v summary with one emulated socket on s_server's stderr" -n "$(grep -E \
      'ktls\[[0-9]+ openssl\]: 1 socket\(s\) offloaded .*kernel ULP 0' "$dir/server.err")"
    if [ "$tx0" = absent ]; then
      expect "the tls module appeared (loaded on demand?)" "$tx1" = absent
    else
      expect "kernel TlsTxSw went $tx0 -> $tx1, want +0" "$tx1" -eq "$tx0"
      expect "kernel TlsRxSw went $rx0 -> $rx1, want +0" "$rx1" -eq "$rx0"
    fi
  fi
  report
}

report() {
  if [ -z "$error" ]; then
    echo "PASS $label"
    passed=$((passed + 1))
  else
    echo "FAIL $label: $error"
    failed=$((failed + 1))
    files="server.err client.err server.stats client.stats"
    [ -n "$port" ] || files="server.out $files"
    for file in $files; do
      log_lines "$file" "$dir/$file"
    done
    log_lines tls_stat /proc/net/tls_stat
  fi
}

started=$(cut -d' ' -f1 /proc/uptime)
ifconfig lo 127.0.0.1 up
mkdir -p /tmp/www
head -c "$size" /dev/urandom >/tmp/www/data
# s_server -WWW sends this header, then the file.
expected=$({ printf 'HTTP/1.0 200 ok\r\nContent-type: text/plain\r\n\r\n'; cat /tmp/www/data; } |
  sha256sum | cut -d' ' -f1)

aes12=ECDHE-ECDSA-AES128-GCM-SHA256
chacha12=ECDHE-ECDSA-CHACHA20-POLY1305
aes13=TLS_AES_128_GCM_SHA256
chacha13=TLS_CHACHA20_POLY1305_SHA256

# 1. No tls module yet (nothing can load it on demand: no /sbin/modprobe here).
phase="no tls module"
run_case auto plain 1.3 "$aes13" ours

# 2. The kernel's TLS ULP.
while read -r module; do
  insmod "/lib/modules/$module" || echo "KTLS-VM-NOTE: insmod $module failed"
done </modules.later
phase="tls module"
if [ "$(kstat TlsTxSw)" = absent ]; then
  echo "FAIL kernel TLS ULP unavailable: no /proc/net/tls_stat after insmod tls"
  failed=$((failed + 1))
else
  run_case auto plain 1.2 "$aes12" kernel
  run_case auto plain 1.3 "$aes13" kernel
  run_case auto plain 1.2 "$chacha12" kernel
  run_case auto plain 1.3 "$chacha13" kernel
  run_case auto auto 1.2 "$aes12" kernel
  # kern.ipc.tls.enable=0 rules out kernel TLS, the kernel's as well as ours: OpenSSL
  # stays in user space.
  run_case auto plain 1.2 "$aes12" openssl KTLS_SYSCTL=kern.ipc.tls.enable=0
  # 3. Software mode keeps the keys from the kernel.
  run_case sw plain 1.2 "$aes12" ours
  run_case sw plain 1.3 "$aes13" ours
fi

ended=$(cut -d' ' -f1 /proc/uptime)
echo "cases took $(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.1f", b - a }') s"
echo "KTLS-VM: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
