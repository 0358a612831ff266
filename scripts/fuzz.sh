#!/usr/bin/env bash
# Runs each fuzz target for N seconds (default 60 in all), seeded from testdata/.
# Longer runs: scripts/fuzz.sh 3600   or   cd fuzz && cargo +nightly fuzz run decode_frames
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
cd fuzz
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
python3 seeds.py "$corpus" ../testdata/*.pcap
targets=$(cargo +nightly fuzz list)
count=$(echo "$targets" | wc -w)
per_target=$(( seconds / count ))
[ "$per_target" -ge 5 ] || per_target=5
for target in $targets; do
  mkdir -p "$corpus/$target"
  echo "fuzzing $target for ${per_target}s"
  log="$corpus/$target.log"
  if ! cargo +nightly fuzz run "$target" "$corpus/$target" -- \
       -max_total_time="$per_target" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz target $target failed: the crashing input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
done
