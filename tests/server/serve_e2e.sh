#!/usr/bin/env bash
# End to end: `ktls serve` on ephemeral ports against Debian's curl (and openssl
# s_client / bash's /dev/tcp for the slow clients). Usage: serve_e2e.sh KTLS_BINARY
#
# Server A (a generated directory, a certificate made with the openssl tool) takes the
# downloads, HEAD, ranges, errors, keep-alive, both TLS versions and the graceful
# shutdown; server B (the built-in demo with its self-signed certificate, idle limit 1 s)
# takes the slow clients. Every wait is bounded.
set -euo pipefail

KTLS=${1:?usage: serve_e2e.sh KTLS_BINARY}
WORK=$(mktemp -d /tmp/ktls-serve-e2e.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for log in "$WORK"/server-*.out "$WORK"/server-*.err; do
    [[ -f $log ]] && { echo "--- $log" >&2; tail -n 40 "$log" >&2; }
  done
  exit 1
}
ok() { echo "ok: $*"; }
expect_eq() {  # expect_eq WHAT GOT WANT
  [[ "$2" == "$3" ]] || fail "$1: got '$2', want '$3'"
  ok "$1"
}

# Starts a server in the background; sets PORT. start_server NAME ARGS...
start_server() {
  local name=$1
  shift
  "$@" >"$WORK/server-$name.out" 2>"$WORK/server-$name.err" &
  PIDS+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 1 200); do
    PORT=$(grep -o 'https://127\.0\.0\.1:[0-9]*' "$WORK/server-$name.out" 2>/dev/null |
           head -n 1 | sed 's/.*://') || true
    [[ -n ${PORT:-} ]] && return 0
    sleep 0.1
  done
  fail "server $name did not start"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# --- content and certificate -------------------------------------------------------
SITE=$WORK/site
mkdir -p "$SITE/sub" "$SITE/empty-dir"
: >"$SITE/empty.bin"
head -c 1 /dev/urandom >"$SITE/one.bin"
head -c 16384 /dev/urandom >"$SITE/16k.bin"
head -c 1048576 /dev/urandom >"$SITE/1m.bin"
head -c 104857600 /dev/urandom >"$SITE/100m.bin"
printf 'hello\n' >"$SITE/hello.txt"
printf '<p>sub index</p>\n' >"$SITE/sub/index.html"
printf 'secret\n' >"$WORK/secret.txt"
ln -s "$WORK/secret.txt" "$SITE/escape"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null

start_server a "$KTLS" serve "$SITE" --listen 127.0.0.1:0 --cert "$WORK/cert.pem" \
  --key "$WORK/key.pem" --threads 2 --idle-timeout 10 --shutdown-timeout 60 --access-log
URL=https://127.0.0.1:$PORT
CURL=(curl -sS --max-time 120 --cacert "$WORK/cert.pem")
ok "server A on $URL"

# A second server on the same port is refused, not silently given half the connections.
if timeout 20 "$KTLS" serve "$SITE" --listen "127.0.0.1:$PORT" --cert "$WORK/cert.pem" \
    --key "$WORK/key.pem" >/dev/null 2>"$WORK/second.err"; then
  fail "a second server bound port $PORT"
fi
grep -q 'Address already in use' "$WORK/second.err" || fail "second server: $(cat "$WORK/second.err")"
ok "a second server on the same port is refused"

# --- downloads: every size, SHA-256 equal -------------------------------------------
for f in empty.bin one.bin 16k.bin 1m.bin 100m.bin; do
  code=$("${CURL[@]}" -o "$WORK/dl" -w '%{http_code}' "$URL/$f")
  expect_eq "GET $f status" "$code" 200
  expect_eq "GET $f sha256" "$(sha "$WORK/dl")" "$(sha "$SITE/$f")"
done

# --- HEAD -----------------------------------------------------------------------------
"${CURL[@]}" -I "$URL/1m.bin" | tr -d '\r' >"$WORK/head"
grep -q '^HTTP/1.1 200 OK$' "$WORK/head" || fail "HEAD status"
grep -qi '^content-length: 1048576$' "$WORK/head" || fail "HEAD Content-Length"
grep -qi '^content-type: application/octet-stream$' "$WORK/head" || fail "HEAD Content-Type"
grep -qi '^accept-ranges: bytes$' "$WORK/head" || fail "HEAD Accept-Ranges"
grep -qi '^date: ' "$WORK/head" || fail "HEAD Date"
grep -qi '^last-modified: ' "$WORK/head" || fail "HEAD Last-Modified"
ok "HEAD fields"
code=$("${CURL[@]}" -I -o /dev/null -w '%{http_code} %{size_download}' "$URL/hello.txt")
expect_eq "HEAD has no body" "$code" "200 0"
ctype=$("${CURL[@]}" -o /dev/null -w '%{content_type}' "$URL/hello.txt")
expect_eq "Content-Type text" "$ctype" "text/plain; charset=utf-8"

# --- conditional ------------------------------------------------------------------------
modified=$(grep -i '^last-modified: ' "$WORK/head" | cut -d' ' -f2-)
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $modified" \
  "$URL/1m.bin")
expect_eq "If-Modified-Since 304" "$code" 304

# --- ranges -----------------------------------------------------------------------------
code=$("${CURL[@]}" -r 100-199 -D "$WORK/h" -o "$WORK/dl" -w '%{http_code}' "$URL/1m.bin")
expect_eq "Range 206" "$code" 206
expect_eq "Range bytes" "$(sha "$WORK/dl")" "$(tail -c +101 "$SITE/1m.bin" | head -c 100 | sha256sum | cut -d' ' -f1)"
grep -qi '^content-range: bytes 100-199/1048576' "$WORK/h" || fail "Content-Range"
ok "Content-Range"
code=$("${CURL[@]}" -r -500 -o "$WORK/dl" -w '%{http_code}' "$URL/1m.bin")
expect_eq "suffix Range 206" "$code" 206
expect_eq "suffix Range bytes" "$(sha "$WORK/dl")" "$(tail -c 500 "$SITE/1m.bin" | sha256sum | cut -d' ' -f1)"
code=$("${CURL[@]}" -r 1048000- -o "$WORK/dl" -w '%{http_code} %{size_download}' "$URL/1m.bin")
expect_eq "open Range" "$code" "206 576"
code=$("${CURL[@]}" -r 0-1,5-6 -o "$WORK/dl" -w '%{http_code} %{size_download}' "$URL/1m.bin")
expect_eq "multiple ranges: whole file" "$code" "200 1048576"
code=$("${CURL[@]}" -r 100- -D "$WORK/h" -o /dev/null -w '%{http_code}' "$URL/hello.txt")
expect_eq "unsatisfiable Range 416" "$code" 416
grep -qi '^content-range: bytes \*/6' "$WORK/h" || fail "416 Content-Range"
ok "416 Content-Range"

# --- errors ---------------------------------------------------------------------------
status() { "${CURL[@]}" -o /dev/null -w '%{http_code}' "$@"; }
expect_eq "404" "$(status "$URL/nope.txt")" 404
expect_eq "403 traversal" "$(status --path-as-is "$URL/../secret.txt")" 403
expect_eq "403 traversal in sub" "$(status --path-as-is "$URL/sub/../../secret.txt")" 403
expect_eq "403 encoded traversal" "$(status --path-as-is "$URL/%2e%2e/secret.txt")" 403
expect_eq "403 symlink out of root" "$(status "$URL/escape")" 403
expect_eq "403 directory without index" "$(status "$URL/empty-dir/")" 403
expect_eq "directory index" "$("${CURL[@]}" "$URL/sub/")" "<p>sub index</p>"
expect_eq "400 bad escape" "$(status --path-as-is "$URL/a%zz")" 400
expect_eq "400 missing Host" "$(status -H 'Host:' "$URL/hello.txt")" 400
code=$("${CURL[@]}" -X DELETE -D "$WORK/h" -o /dev/null -w '%{http_code}' "$URL/hello.txt")
expect_eq "405" "$code" 405
grep -qi '^allow: GET, HEAD' "$WORK/h" || fail "405 Allow"
ok "405 Allow"
expect_eq "413 request body" "$(status -X GET --data-binary abc "$URL/hello.txt")" 413
big=$(head -c 9000 /dev/zero | tr '\0' a)
expect_eq "431 oversize head" "$(status -H "X-Big: $big" "$URL/hello.txt")" 431
expect_eq "encoded name" "$("${CURL[@]}" "$URL/%68ello.txt")" hello

# --- keep-alive, HTTP/1.0 ---------------------------------------------------------------
connects=$("${CURL[@]}" -w '%{num_connects}\n' -o /dev/null -o /dev/null \
  "$URL/hello.txt" "$URL/1m.bin" | tr '\n' ' ')
expect_eq "keep-alive reuses the connection" "$connects" "1 0 "
connects=$("${CURL[@]}" -w '%{num_connects}\n' -o /dev/null -o /dev/null -o /dev/null \
  "$URL/nope" "$URL/16k.bin" "$URL/hello.txt" | tr '\n' ' ')
expect_eq "keep-alive after a 404" "$connects" "1 0 0 "
expect_eq "HTTP/1.0" "$("${CURL[@]}" -0 "$URL/hello.txt")" hello

# --- TLS versions and suites ---------------------------------------------------------------
tls_check() {  # tls_check NAME WANT_VERSION CURL_ARGS...
  local name=$1 want=$2
  shift 2
  "${CURL[@]}" -v "$@" -o "$WORK/dl" "$URL/1m.bin" 2>"$WORK/verbose" || fail "$name: curl failed"
  grep -q "SSL connection using $want" "$WORK/verbose" || fail "$name: not $want"
  expect_eq "$name ($(grep -o "SSL connection using .*" "$WORK/verbose"))" \
    "$(sha "$WORK/dl")" "$(sha "$SITE/1m.bin")"
}
tls_check "TLS 1.3" TLSv1.3 --tlsv1.3
tls_check "TLS 1.3 AES-128-GCM" TLSv1.3 --tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256
tls_check "TLS 1.3 ChaCha20" TLSv1.3 --tlsv1.3 --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256
tls_check "TLS 1.2" TLSv1.2 --tlsv1.2 --tls-max 1.2
tls_check "TLS 1.2 ChaCha20" TLSv1.2 --tlsv1.2 --tls-max 1.2 \
  --ciphers ECDHE-ECDSA-CHACHA20-POLY1305
connects=$("${CURL[@]}" --tlsv1.2 --tls-max 1.2 -w '%{num_connects}\n' -o /dev/null \
  -o /dev/null "$URL/16k.bin" "$URL/hello.txt" | tr '\n' ' ')
expect_eq "TLS 1.2 keep-alive" "$connects" "1 0 "

# --- post-handshake handshake messages: documented to end the connection -----------------
for cmd in k R; do  # s_client: k = TLS 1.3 KeyUpdate, R = TLS 1.2 renegotiation
  version=-tls1_3
  [[ $cmd == R ]] && version=-tls1_2
  start=$(date +%s%N)
  timeout 10 openssl s_client $version -connect "127.0.0.1:$PORT" >/dev/null 2>&1 \
    < <(sleep 0.3; printf '%s\n' "$cmd"; sleep 8) || true
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  (( ms < 5000 )) || fail "post-handshake '$cmd': connection still open after $ms ms"
  ok "post-handshake '$cmd' closes the connection ($ms ms)"
done

# --- a knob written with `ktls sysctl -p` reaches the running server ---------------------
# kern.ipc.tls.enable is a run-time knob: as on FreeBSD it decides for sessions enabled
# after the write. With it off the server cannot offload, and `ktls serve` closes such a
# connection rather than serve it without ktls; switched back on, new connections work.
records_sealed() {
  sleep 0.4  # the export is refreshed every 200 ms
  "$KTLS" sysctl -p "$PID_a" -n kern.ipc.tls.stats.ocf.tls13_gcm_encrypts
}
TLS13=(--tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256)
before=$(records_sealed)
"${CURL[@]}" "${TLS13[@]}" "$URL/1m.bin" -o "$WORK/knob1"
expect_eq "knob: download before the write" "$(sha "$WORK/knob1")" "$(sha "$SITE/1m.bin")"
on=$(records_sealed)
(( on - before >= 64 )) || fail "knob: 1 MiB sealed as $((on - before)) records, want >= 64"
"$KTLS" sysctl -p "$PID_a" kern.ipc.tls.enable=0 >"$WORK/knob.out" ||
  fail "ktls sysctl -p $PID_a kern.ipc.tls.enable=0: $(cat "$WORK/knob.out")"
expect_eq "knob: write answered" "$(cat "$WORK/knob.out")" "kern.ipc.tls.enable: 1 -> 0"
if "${CURL[@]}" "${TLS13[@]}" "$URL/1m.bin" -o "$WORK/knob2" 2>/dev/null; then
  fail "knob: served a response with kern.ipc.tls.enable=0"
fi
expect_eq "knob: nothing sealed while off" "$(records_sealed)" "$on"
"$KTLS" sysctl -p "$PID_a" kern.ipc.tls.enable=1 >/dev/null
"${CURL[@]}" "${TLS13[@]}" "$URL/1m.bin" -o "$WORK/knob3"
expect_eq "knob: download after switching back" "$(sha "$WORK/knob3")" "$(sha "$SITE/1m.bin")"
(( $(records_sealed) - on >= 64 )) || fail "knob: nothing sealed after switching back"

# --- slow clients, on the demo server with a 1 s limit -------------------------------------
mkdir -p "$WORK/home"
start_server b env -u XDG_RUNTIME_DIR HOME="$WORK/home" "$KTLS" serve --port 0 --threads 1 \
  --idle-timeout 1
PORT_B=$PORT
DEMO=$WORK/home/.cache/ktls
expect_eq "demo key mode" "$(stat -c %a "$DEMO/key.pem")" 600
grep -q "curl --cacert $DEMO/cert.pem https://127.0.0.1:$PORT_B/" "$WORK/server-b.out" ||
  fail "demo prints its curl command"
ok "demo prints its curl command"
DEMO_CURL=(curl -sS --max-time 60 --cacert "$DEMO/cert.pem")
"${DEMO_CURL[@]}" -o "$WORK/dl" "https://127.0.0.1:$PORT_B/random-1MiB.bin"
expect_eq "demo random file" "$(sha "$WORK/dl")" \
  "$("${DEMO_CURL[@]}" "https://127.0.0.1:$PORT_B/SHA256SUMS" | cut -d' ' -f1)"
"${DEMO_CURL[@]}" "https://127.0.0.1:$PORT_B/" | grep -q "ktls serve" || fail "demo index"
ok "demo index.html"

elapsed_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
expect_closed_within() {  # NAME START_NS MIN_MS MAX_MS
  local ms
  ms=$(elapsed_ms "$2")
  (( ms >= $3 && ms <= $4 )) || fail "$1: closed after $ms ms, want $3..$4 ms"
  ok "$1 (closed after $ms ms)"
}
# A TCP connection that never starts its handshake.
start=$(date +%s%N)
timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT_B; cat <&3 >/dev/null" || true
expect_closed_within "idle TCP connection" "$start" 700 4000
# A finished handshake, then half a request.
start=$(date +%s%N)
timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT_B" >/dev/null 2>&1 \
  < <(printf 'GET /hello.txt HTTP/1.1\r\nHost: x\r\n'; sleep 10) || true
expect_closed_within "partial request" "$start" 700 4000
# A request head dribbled one byte at a time: never idle, but never complete either.
start=$(date +%s%N)
timeout 10 openssl s_client -quiet -connect "127.0.0.1:$PORT_B" >/dev/null 2>&1 \
  < <(printf 'GET /'; for _ in $(seq 1 30); do sleep 0.2; printf a; done) || true
expect_closed_within "dribbled request head" "$start" 700 4000
# The server still serves after all that.
expect_eq "demo hello after slow clients" \
  "$("${DEMO_CURL[@]}" "https://127.0.0.1:$PORT_B/hello.txt" | head -n 1)" \
  "Hello from ktls serve."

# --- graceful shutdown: a download in flight finishes, new connections are refused --------
"${CURL[@]}" --limit-rate 25M -o "$WORK/slow" "$URL/100m.bin" &
SLOW=$!
for _ in $(seq 1 100); do
  [[ -f $WORK/slow && $(stat -c %s "$WORK/slow") -gt 4000000 ]] && break
  sleep 0.1
done
kill -TERM "$PID_a"
sleep 0.5
if "${CURL[@]}" -o /dev/null "$URL/hello.txt" 2>/dev/null; then fail "accepted after SIGTERM"; fi
ok "no new connections after SIGTERM"
wait "$SLOW" || fail "the download in flight failed"
expect_eq "download in flight completes" "$(sha "$WORK/slow")" "$(sha "$SITE/100m.bin")"
for _ in $(seq 1 300); do kill -0 "$PID_a" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID_a" 2>/dev/null && fail "server A still running 30 s after SIGTERM"
wait "$PID_a" || fail "server A exited with $?"
ok "server A exited 0"
grep -q 'SIGTERM' "$WORK/server-a.out" || fail "no SIGTERM notice"
summary=$(grep 'tls records' "$WORK/server-a.out") || fail "no summary"
echo "$summary"
grep 'connections:\|requests:\|bytes:' "$WORK/server-a.out"
sealed=$(sed -n 's/.* sealed=\([0-9]*\).*/\1/p' <<<"$summary")
opened=$(sed -n 's/.* opened=\([0-9]*\).*/\1/p' <<<"$summary")
body=$(sed -n 's/.*bytes: body=\([0-9]*\).*/\1/p' "$WORK/server-a.out")
# Every body byte went out in records of at most 16 KiB that the engine sealed.
(( sealed >= body / 16384 )) || fail "sealed $sealed records for $body body bytes"
(( opened > 0 )) || fail "no records opened by the engine"
ok "ktls sealed $sealed records for $body body bytes and opened $opened"
# (A record the client protects after its KeyUpdate cannot open: failed_crypto may be 1.)
grep -q 'failed_crypto=[01] corrupted_records=0' <<<"$summary" || fail "crypto failures"
# One: the connection made while kern.ipc.tls.enable was 0.
grep -q 'offload_failures=1' "$WORK/server-a.out" || fail "offload failures"
grep -q 'forced_at_shutdown=0' "$WORK/server-a.out" || fail "forced closes"
grep -q 'post_handshake_closes=2' "$WORK/server-a.out" || fail "post-handshake closes"
ok "no crypto, offload or forced-close failures"

kill -INT "$PID_b"
for _ in $(seq 1 100); do kill -0 "$PID_b" 2>/dev/null || break; sleep 0.1; done
wait "$PID_b" || fail "server B exited with $?"
grep -q 'timeouts=[1-9]' "$WORK/server-b.out" || fail "server B counted no timeouts"
ok "server B counted its timeouts: $(grep -o 'timeouts=[0-9]*' "$WORK/server-b.out")"
echo "PASS"
