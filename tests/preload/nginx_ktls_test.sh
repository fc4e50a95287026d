#!/usr/bin/env bash
# Debian's nginx (`ssl_conf_command Options KTLS; sendfile on;`) under `ktls run`: nginx
# must take its kTLS path (SSL_sendfile for every file body, per its debug log), our
# engine must seal those records (the worker's counters through the control plane and
# its exit summary), and every download must hash equal to the file served.
#
# usage: nginx_ktls_test.sh KTLS_BINARY VERSION CIPHER
#   VERSION  1.2 | 1.3
#   CIPHER   an OpenSSL cipher (1.2) or ciphersuite (1.3) name; nginx and the clients
#            are all limited to it, and the clients must report it
# KTLS_PRELOAD_MODE defaults to sw: the checks are about this library's records, which a
# kernel with the TLS ULP would otherwise take over.
#
# One nginx (master + 1 worker) under `ktls run -v` on 127.0.0.1 with an ephemeral port
# serves files of 0 B, 1 B, 16 KiB, 1 MiB and 100 MiB; each is fetched three times:
#   plain curl                 user-space TLS on the client
#   curl under ktls run -v     Debian 12's curl never takes kTLS (it talks to OpenSSL
#                              through its own BIO), so the interposer only passes its
#                              calls through; a curl that does take it is checked fully
#   openssl s_client under ktls run -v   seals its request through the interposer and,
#                              for TLS 1.2, opens nginx's records there too
# Checked: every body's SHA-256; the suite each client negotiated; per connection in
# nginx's debug log, `BIO_get_ktls_send(): 1` and SSL_sendfile return values adding up
# to the file's size (nginx splits large files into many calls, and logs -1 for EAGAIN);
# while nginx runs, the worker's sealed-record counter (`ktls sysctl -p WORKER`) growing
# by at least one record per 16 KiB served; at the worker's exit, its summary
# (KTLS_STATS_FILE, `-v` line in the error log) with every connection offloaded and at
# least the served bytes sealed; nginx stopping with SIGQUIT and leaving no process.
# Then a control: the same nginx without `ktls run` (skipped where the kernel has the
# TLS ULP) must not take the kTLS path, so the log checks above can fail. nginx 1.22
# logs `BIO_get_ktls_send(): 1` only (never 0, nothing for receive). Exit 77 (skip)
# without nginx.
set -euo pipefail

ktls=$(realpath "${1:?usage: nginx_ktls_test.sh KTLS_BINARY VERSION CIPHER}")
version=${2:?version}
cipher=${3:?cipher}
export KTLS_PRELOAD_MODE=${KTLS_PRELOAD_MODE:-sw}

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "SKIP: nginx is not installed (apt-get install nginx, or scripts/install-deps.sh)"
  exit 77
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d "${TMPDIR:-/tmp}/ktls-nginx-test.XXXXXX")
master_pid=  # the running nginx's master; its process group is the whole server
cleanup() {
  if [ -n "$master_pid" ]; then
    # SIGTERM first, so the worker exits normally and removes its /dev/shm export.
    kill -TERM -- "-$master_pid" 2>/dev/null || true
    for _ in $(seq 50); do
      pgrep -g "$master_pid" >/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$master_pid" 2>/dev/null || true
    wait "$master_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step=  # the client run in progress: fail() shows its stderr
fail() {
  echo "FAIL [nginx TLS$version $cipher]: $*" >&2
  for f in "$work/$step.err" "$work"/ktls.err "$work"/control.err "$work"/logs/*.log; do
    [ -s "$f" ] || continue
    echo "--- $(basename "$f") (last lines)" >&2
    # The debug logs and curl -v are long: their last lines that matter here.
    grep -E 'ktls|SSL_sendfile|SSL_write|BIO_get|request line|\[(alert|emerg|crit|error)\]|SSL connection|Protocol version|Ciphersuite|Kernel TLS|^< HTTP|^curl|error:' "$f" |
      tail -n 15 >&2 || true
  done
  exit 1
}

case "$version" in
  1.2)
    nginx_suite="ssl_protocols TLSv1.2; ssl_ciphers $cipher;"
    curl_suite=(--tlsv1.2 --tls-max 1.2 --ciphers "$cipher")
    sclient_suite=(-tls1_2 -cipher "$cipher")
    ;;
  1.3)
    nginx_suite="ssl_protocols TLSv1.3; ssl_conf_command Ciphersuites $cipher;"
    curl_suite=(--tlsv1.3 --tls13-ciphers "$cipher")
    sclient_suite=(-tls1_3 -ciphersuites "$cipher")
    ;;
  *) fail "unknown version $version" ;;
esac
# The counter of records our engine sealed with this suite (kern.ipc.tls.stats.ocf.*).
case "$cipher" in
  *CHACHA20*) sealed_counter=kern.ipc.tls.stats.ocf.tls${version/./}_chacha20_encrypts ;;
  *GCM*) sealed_counter=kern.ipc.tls.stats.ocf.tls${version/./}_gcm_encrypts ;;
  *) fail "no counter for cipher $cipher" ;;
esac

cd "$work"
mkdir html logs tmp
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
  -subj /CN=localhost >/dev/null 2>&1 || fail "openssl req"
declare -A sizes=([0.bin]=0 [1.bin]=1 [16k.bin]=16384 [1m.bin]=1048576 [100m.bin]=104857600)
files=(0.bin 1.bin 16k.bin 1m.bin 100m.bin)
declare -A want_sha
for f in "${files[@]}"; do
  head -c "${sizes[$f]}" /dev/urandom >"html/$f"
  want_sha[$f]=$(sha256sum <"html/$f" | cut -d' ' -f1)
done

kernel_ulp=$(timeout 30 "$ktls" probe --json |
  python3 -c 'import json, sys; print(int(json.load(sys.stdin)["kernel_tls"]["available"]))') ||
  fail "ktls probe --json"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# alive PID: running (a zombie, exited but not yet reaped by us, is not).
alive() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# start_nginx NAME WRAP...: nginx in its own session (so the whole server is one process
# group), with WRAP (e.g. `ktls run -v --`) in front; sets $port, $master_pid and
# $worker_pid. A port taken between choosing and binding it is retried with another.
start_nginx() {
  local name=$1
  shift
  local user_line=
  [ "$(id -u)" -eq 0 ] && user_line="user root;"  # else workers run as this user anyway
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    cat >"$name.conf" <<EOF
daemon off; master_process on; worker_processes 1; $user_line
pid $work/$name.pid;
error_log $work/logs/$name.log debug;
events { worker_connections 256; }
http {
  access_log off; sendfile on; keepalive_timeout 5s;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;
    $nginx_suite
    ssl_conf_command Options KTLS;
    root $work/html;
  }
}
EOF
    rm -f "$name.pid"
    KTLS_STATS_FILE="$work/$name.stats.%p" setsid "$@" "$nginx_bin" -p "$work" \
      -e "$work/logs/$name.startup.log" -c "$work/$name.conf" \
      >"$name.out" 2>"$name.err" </dev/null &
    master_pid=$!
    worker_pid=
    for _ in $(seq 200); do
      if ! alive "$master_pid"; then
        wait "$master_pid" 2>/dev/null || true
        master_pid=
        break
      fi
      if [ -s "$name.pid" ]; then
        [ "$(cat "$name.pid")" = "$master_pid" ] || fail "$name: nginx.pid is not the master we started"
        # The listening socket exists before the master forks its worker.
        worker_pid=$(pgrep -P "$master_pid" -f 'nginx: worker' | head -1) || true
        [ -n "$worker_pid" ] && return 0
      fi
      sleep 0.1
    done
    [ -n "$master_pid" ] && fail "$name: nginx did not start a worker within 20 s"
    grep -q 'Address already in use' "logs/$name.startup.log" "logs/$name.log" "$name.err" \
      2>/dev/null || fail "$name: nginx exited at start-up"
    echo "port $port was taken; retrying with another" >&2
  done
  fail "$name: no free port after 5 tries"
}

# stop_nginx NAME: graceful stop (SIGQUIT), bounded; no process of its group may remain.
stop_nginx() {
  local name=$1 pgid=$master_pid
  kill -QUIT "$master_pid" || fail "$name: nginx master is gone before SIGQUIT"
  for _ in $(seq 150); do
    alive "$master_pid" || break
    sleep 0.1
  done
  if alive "$master_pid"; then
    kill -TERM -- "-$pgid" 2>/dev/null || true
    fail "$name: nginx did not stop within 15 s of SIGQUIT"
  fi
  local status=0
  wait "$master_pid" || status=$?
  master_pid=
  [ "$status" -eq 0 ] || fail "$name: nginx exited with $status"
  for _ in $(seq 50); do
    pgrep -g "$pgid" >/dev/null || return 0
    sleep 0.1
  done
  fail "$name: processes left in nginx's group: $(pgrep -a -g "$pgid" | tr '\n' ';')"
}

stat_of() {  # FILE NAME
  sed -n "s/^$2=//p" "$1" 2>/dev/null | head -1
}

sealed_now() {  # the worker's live sealed-record counter (0 before it first offloads)
  timeout 10 "$ktls" sysctl -p "$worker_pid" -n "$sealed_counter" 2>/dev/null || echo 0
}

# fetch NAME FILE WRAP...: GET FILE with curl (WRAP in front), limited to the suite
# under test; the body must hash equal and curl -v must name the suite.
fetch() {
  local name=$1 file=$2
  shift 2
  local status=0
  step=$name
  KTLS_STATS_FILE="$work/$name.stats" timeout 60 "$@" curl -sS -v -k --max-time 50 \
    "${curl_suite[@]}" -o "$name.body" "https://127.0.0.1:$port/$file" 2>"$name.err" ||
    status=$?
  [ "$status" -eq 0 ] || fail "$name: curl exited with $status"
  grep -q "SSL connection using TLSv$version / $cipher\$" "$name.err" ||
    fail "$name: curl did not negotiate TLSv$version / $cipher: $(grep 'SSL connection' "$name.err")"
  local got
  got=$(sha256sum <"$name.body" | cut -d' ' -f1)
  [ "$got" = "${want_sha[$file]}" ] ||
    fail "$name: $file differs ($(stat -c %s "$name.body") bytes, expected ${sizes[$file]})"
  rm -f "$name.body"
}

# check_ktls_curl NAME FILE: curl under `ktls run -v`. Debian 12's curl (7.88) reads and
# writes through its own OpenSSL BIO, and OpenSSL turns kTLS on only over a socket BIO,
# so this curl never asks for the TLS ULP: then there is no summary at all (the
# interposer only passed its calls through). A curl that does ask must have had its
# records sealed (and for TLS 1.2 opened) here.
check_ktls_curl() {
  local name=$1 file=$2 stats="$work/$1.stats"
  step=$name
  if [ ! -f "$stats" ]; then
    if grep -q '^ktls\[' "$name.err"; then fail "$name: -v summary without KTLS_STATS_FILE"; fi
    return 0
  fi
  curl_offloaded=$((curl_offloaded + 1))
  check_client_stats "$name" "$file" curl
}

# check_client_stats NAME FILE PROGRAM: a client under `ktls run -v` sealed its request
# through the interposer and, for TLS 1.2 (OpenSSL 3.0 offloads 1.3 transmit only),
# opened the whole body.
check_client_stats() {
  local name=$1 file=$2 program=$3 stats="$work/$1.stats"
  local size=${sizes[$file]}
  [ -f "$stats" ] || fail "$name: $program under ktls run wrote no KTLS_STATS_FILE"
  grep -q "^ktls\[[0-9]* $program\]: 1 socket(s) offloaded (TX 1, " "$name.err" ||
    fail "$name: no -v summary with one offloaded socket on $program's stderr"
  [ "$(stat_of "$stats" tx_records)" -ge 1 ] || fail "$name: $program sealed no records"
  [ "$(stat_of "$stats" tx_errors)" -eq 0 ] || fail "$name: $program: send errors"
  [ "$(stat_of "$stats" rx_errors)" -eq 0 ] || fail "$name: $program: receive errors"
  if [ "$version" = 1.2 ]; then
    [ "$(stat_of "$stats" rx_offloaded)" -eq 1 ] || fail "$name: $program did not offload RX"
    [ "$(stat_of "$stats" rx_bytes)" -ge "$size" ] ||
      fail "$name: $program opened $(stat_of "$stats" rx_bytes) bytes, less than the $size served"
    [ "$(stat_of "$stats" rx_records)" -ge $(((size + 16383) / 16384)) ] ||
      fail "$name: $program opened too few records"
    grep -q "^ktls\[[0-9]* $program\]: .*; RX [1-9][0-9]* records" "$name.err" ||
      fail "$name: $program's -v summary shows no records opened"
  else
    [ "$(stat_of "$stats" rx_records)" -eq 0 ] || fail "$name: $program opened TLS 1.3 records"
  fi
}

# fetch_sclient NAME FILE: `openssl s_client` under `ktls run -v` (which, unlike curl,
# takes kTLS) sends an HTTP/1.0 GET; the body after the header must hash equal.
fetch_sclient() {
  local name=$1 file=$2 status=0
  step=$name
  printf 'GET /%s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$file" >"$name.in"
  KTLS_STATS_FILE="$work/$name.stats" timeout 60 "$ktls" run -v -- openssl s_client \
    -connect "127.0.0.1:$port" -servername localhost -brief -ign_eof "${sclient_suite[@]}" \
    <"$name.in" >"$name.body" 2>"$name.err" || status=$?
  [ "$status" -eq 0 ] || fail "$name: s_client exited with $status"
  if ! grep -q "^Protocol version: TLSv$version\$" "$name.err" ||
    ! grep -q "^Ciphersuite: $cipher\$" "$name.err"; then
    fail "$name: s_client did not negotiate TLSv$version / $cipher"
  fi
  local got
  got=$(python3 - "$name.body" <<'PY'
import hashlib, sys
with open(sys.argv[1], "rb") as f:
    head = f.read(65536)
    end = head.find(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 ") or end < 0:
        print("no HTTP 200 response: %r" % head[:200])
        sys.exit(0)
    h = hashlib.sha256(head[end + 4:])
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
    print(h.hexdigest())
PY
  )
  [ "$got" = "${want_sha[$file]}" ] ||
    fail "$name: $file differs ($got; $(stat -c %s "$name.body") bytes with the header)"
  rm -f "$name.body"
  check_client_stats "$name" "$file" openssl
  if [ "$version" = 1.2 ]; then
    grep -q "Using Kernel TLS for receiving" "$name.err" || fail "$name: OpenSSL did not enable kTLS RX"
  fi
  grep -q "Using Kernel TLS for sending" "$name.err" || fail "$name: OpenSSL did not enable kTLS TX"
}

# check_log NAME MODE: nginx's debug log, per connection (*N): which file, whether
# OpenSSL reported kTLS for sending, and the bytes SSL_sendfile and SSL_write returned.
#   ktls     every connection has BIO_get_ktls_send(): 1, its file body went out through
#            SSL_sendfile in full (a 0-byte file: no SSL_sendfile), only the header
#            through SSL_write; each file was fetched COUNT times
#   control  no connection has kTLS or SSL_sendfile; bodies went through SSL_write
check_log() {
  local name=$1 mode=$2 count=$3
  shift 3
  step=
  local expect=()
  for f in "$@"; do expect+=("/$f=${sizes[$f]}"); done
  python3 - "logs/$name.log" "$mode" "$count" "${expect[@]}" <<'PY' ||
import collections, re, sys
log, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
expect = dict((p, int(s)) for p, s in (a.split("=") for a in sys.argv[4:]))
conns = collections.defaultdict(lambda: {"path": None, "ktls": False, "sendfile": 0,
                                         "sendfile_calls": 0, "write": 0})
pat = re.compile(r"\*(\d+) (?:BIO_get_ktls_send\(\): (\d+)|http request line: \"GET (\S+) "
                 r"|SSL_sendfile: (-?\d+)|SSL_write: (-?\d+))")
for line in open(log, errors="replace"):
    m = pat.search(line)
    if not m:
        continue
    c = conns[m.group(1)]
    if m.group(2) is not None:
        c["ktls"] = m.group(2) == "1"
    elif m.group(3) is not None:
        c["path"] = m.group(3)
    elif m.group(4) is not None and int(m.group(4)) > 0:
        c["sendfile"] += int(m.group(4))
        c["sendfile_calls"] += 1
    elif m.group(5) is not None and int(m.group(5)) > 0:
        c["write"] += int(m.group(5))
errors = []
seen = collections.Counter()
for cid, c in sorted(conns.items(), key=lambda kv: int(kv[0])):
    if c["path"] is None:
        continue  # no request on it
    size = expect.get(c["path"])
    if size is None:
        errors.append(f"*{cid}: unexpected request {c['path']}")
        continue
    seen[c["path"]] += 1
    what = (f"*{cid} {c['path']} ({size} B): kTLS send {int(c['ktls'])}, SSL_sendfile "
            f"{c['sendfile']} B in {c['sendfile_calls']} call(s), SSL_write {c['write']} B")
    print(what)
    if mode == "ktls":
        if not c["ktls"]:
            errors.append(what + ": no 'BIO_get_ktls_send(): 1'")
        if c["sendfile"] != size:
            errors.append(what + f": SSL_sendfile moved {c['sendfile']} B, not the file's {size}")
        if c["write"] > 4096:
            errors.append(what + ": more than a header went through SSL_write")
    else:
        if c["ktls"] or c["sendfile_calls"]:
            errors.append(what + ": kTLS path taken without ktls run")
        if c["write"] < size:
            errors.append(what + ": body did not go through SSL_write")
for path in expect:
    if seen[path] != count:
        errors.append(f"{path}: {seen[path]} connection(s) in the log, expected {count}")
for e in errors:
    print("log: " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
    fail "$name: nginx's debug log does not show the expected path (see above)"
}

curl_offloaded=0  # downloads by curl under ktls run that took kTLS

# --- nginx under ktls run ---------------------------------------------------------------
start_nginx ktls "$ktls" run -v --
worker=$worker_pid
master=$master_pid
sealed_before=0
served=0
for f in "${files[@]}"; do
  fetch "plain-$f" "$f"
  fetch "ktls-curl-$f" "$f" "$ktls" run -v --
  check_ktls_curl "ktls-curl-$f" "$f"
  fetch_sclient "ktls-sclient-$f" "$f"
  # Our engine sealed at least one record per 16 KiB of each body (and the header): the
  # worker's live counter through the control plane, refreshed every 200 ms.
  step=
  size=${sizes[$f]}
  served=$((served + 3 * size))
  need=$((sealed_before + 3 * ((size + 16383) / 16384 + 1)))
  sealed=0
  for _ in $(seq 50); do
    sealed=$(sealed_now)
    [ "$sealed" -ge "$need" ] && break
    sleep 0.1
  done
  [ "$sealed" -ge "$need" ] ||
    fail "$f: the worker's $sealed_counter is $sealed, expected at least $need"
  sealed_before=$sealed
done
echo "nginx worker $worker: $sealed_counter = $sealed_before (control plane)"
stop_nginx ktls

check_log ktls ktls 3 "${files[@]}"
# At exit the worker (nginx's workers drop the environment, so this also checks that
# KTLS_STATS_FILE and KTLS_PRELOAD_VERBOSE were read at start-up) reports what it sealed.
stats="ktls.stats.$worker"
[ -f "$stats" ] || fail "the nginx worker wrote no KTLS_STATS_FILE (files: $(echo *))"
conns=$((3 * ${#files[@]}))
[ "$(stat_of "$stats" sockets_emulated)" -eq "$conns" ] ||
  fail "worker: $(stat_of "$stats" sockets_emulated) sockets took our ULP, expected $conns"
[ "$(stat_of "$stats" tx_offloaded)" -eq "$conns" ] || fail "worker: not every connection offloaded TX"
[ "$(stat_of "$stats" sockets_kernel)" -eq 0 ] || fail "worker: sockets went to the kernel's TLS"
[ "$(stat_of "$stats" tx_bytes)" -ge "$served" ] ||
  fail "worker: sealed $(stat_of "$stats" tx_bytes) plaintext bytes, less than the $served served"
[ "$(stat_of "$stats" tx_records)" -ge "$sealed_before" ] || fail "worker: fewer records at exit than live"
[ "$(stat_of "$stats" tx_errors)" -eq 0 ] || fail "worker: send errors"
[ "$(stat_of "$stats" rx_errors)" -eq 0 ] || fail "worker: receive errors"
if [ "$version" = 1.2 ]; then
  # OpenSSL 3.0 also offloads TLS 1.2 receive: the requests came through our records.
  [ "$(stat_of "$stats" rx_records)" -ge "$conns" ] || fail "worker: opened no request records"
fi
grep -q "^ktls\[$worker nginx\]: $conns socket(s) offloaded" logs/ktls.log ||
  fail "no -v summary of the worker in nginx's error log"
if [ -f "ktls.stats.$master" ]; then fail "the master offloaded a socket"; fi
echo "nginx under ktls run done at $SECONDS s; curl under ktls run took kTLS in" \
  "$curl_offloaded of ${#files[@]} downloads (curl 7.88 never does: its own OpenSSL BIO)"

# --- control: the same nginx without ktls run -----------------------------------------
if [ "$kernel_ulp" = 1 ]; then
  echo "control skipped: this kernel has the TLS ULP, so nginx takes kTLS without ktls run"
else
  start_nginx control
  fetch control-1m.bin 1m.bin
  fetch control-16k.bin 16k.bin
  stop_nginx control
  check_log control control 1 1m.bin 16k.bin
fi

echo "PASS [nginx TLS$version $cipher] in $SECONDS s"
