#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, from its checked-in corpus.
set -euo pipefail
build_dir=$1
seconds=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for target in "$build_dir"/tests/fuzz/*_fuzz; do
  [ -x "$target" ] || continue
  name=$(basename "$target" _fuzz)
  corpus="$root/tests/fuzz/corpus/$name"
  work=$(mktemp -d)
  echo "fuzz: $name for ${seconds}s"
  if ! "$target" -max_total_time="$seconds" -print_final_stats=0 "$work" "$corpus" \
      >"$work/log" 2>&1; then
    tail -50 "$work/log"
    status=1
  else
    grep -E '^#[0-9]+.*DONE' "$work/log" | tail -1 || true
  fi
  rm -rf "$work"
done
exit $status
