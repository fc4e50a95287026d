#!/usr/bin/env bash
# `ktls bench serve` end to end at toy sizes: every server starts, every download is
# checked byte for byte by the benchmark itself, and the JSON and PNG it writes say what
# really happened: ktls sealed the records of nginx+ktls and ktls-serve and none of
# nginx's, the client opened TLS records with ktls, the many-connections run had no
# errors. Timings are printed, never asserted.
#
# usage: bench_serve_smoke.sh KTLS_BINARY
set -euo pipefail

ktls=$(realpath "${1:?usage: bench_serve_smoke.sh KTLS_BINARY}")
work=$(mktemp -d "${TMPDIR:-/tmp}/ktls-bench-smoke.XXXXXX")
trap 'rm -rf "$work"' EXIT

have_nginx=1
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || have_nginx=0
servers=plaintext,nginx,nginx+ktls,ktls-serve
[ "$have_nginx" = 1 ] || { echo "nginx not installed: ktls-serve only"; servers=ktls-serve; }

timeout 240 "$ktls" bench serve --size 8M --runs 2 --connections 40 --load-seconds 1 \
  --servers "$servers" --work-dir "$work/w" --out "$work" >"$work/table.txt" 2>"$work/progress.txt" || {
  echo "FAIL: ktls bench serve exited with $?" >&2
  cat "$work/progress.txt" "$work/table.txt" >&2
  exit 1
}
cat "$work/table.txt"

python3 - "$work/bench-serve.json" "$work/bench-serve.png" "$have_nginx" <<'PY'
import json, struct, sys, zlib

report = json.load(open(sys.argv[1]))
have_nginx = sys.argv[3] == "1"
failures = []
def check(condition, what):
    if not condition:
        failures.append(what)

servers = {s["name"]: s for s in report["servers"]}
expected = ["plaintext", "nginx", "nginx+ktls", "ktls-serve"] if have_nginx else ["ktls-serve"]
check(sorted(servers) == sorted(expected), f"servers {sorted(servers)}")
check(report["file_bytes"] == 8 * 1024 * 1024, "file size")
for name, s in servers.items():
    check(s["ran"], f"{name} ran")
    check(len(s["samples"]) == 2, f"{name}: two samples")
    check(all(x["gigabytes_per_second"] > 0 for x in s["samples"]), f"{name}: rates")
    tls = name != "plaintext"
    check(s["protocol"] == ("TLSv1.3 TLS_AES_128_GCM_SHA256" if tls else "plain"),
          f"{name}: protocol {s['protocol']}")
    check(s["client_rx_offloaded"] == tls, f"{name}: client RX offload {s['client_rx_offloaded']}")
    # 8 MiB in 16 KiB records, three downloads (one checked, two timed).
    sealed = s["records_sealed_by_ktls"]
    if name in ("nginx+ktls", "ktls-serve"):
        check(sealed >= 3 * 512, f"{name}: ktls sealed only {sealed} records")
    else:
        check(sealed == 0, f"{name}: ktls sealed {sealed} records of a server it does not serve")
load = {l["name"]: l for l in report["many_connections"]}
check(sorted(load) == sorted(n for n in expected if n != "plaintext"), f"load runs {sorted(load)}")
for name, l in load.items():
    check(l["ran"] and l["requests"] > 0, f"{name}: no requests")
    check(l["errors"] == 0, f"{name}: {l['errors']} errors ({l.get('first_error')})")
    check(l["connections_established"] >= 40, f"{name}: {l['connections_established']} connections")
    check(l["server_peak_rss_bytes"] > 1 << 20, f"{name}: RSS {l['server_peak_rss_bytes']}")
check(any(t["target"].startswith("ktls-serve <= 0.6") for t in report["targets"]), "targets")

png = open(sys.argv[2], "rb").read()
check(png[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature")
width, height = struct.unpack(">II", png[16:24])
check(png[12:16] == b"IHDR" and width >= 400 and height >= 300, f"PNG header {width}x{height}")
pos, idat = 8, b""
while pos < len(png):
    length, kind = struct.unpack(">I4s", png[pos:pos + 8])
    body = png[pos + 8:pos + 8 + length]
    crc, = struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])
    check(zlib.crc32(kind + body) == crc, f"PNG chunk {kind} CRC")
    if kind == b"IDAT":
        idat += body
    pos += 12 + length
check(len(zlib.decompress(idat)) == height * (1 + 3 * width), "PNG image data size")

if failures:
    print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
print("bench serve smoke: OK")
PY
