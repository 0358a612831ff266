#!/usr/bin/env bash
# Runs every test of Spider, installing what is missing first. Prints the time of each stage.
# Usage: scripts/test.sh            (FUZZ_SECONDS=60 by default; 0 skips the fuzz stage)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
fuzz_seconds=${FUZZ_SECONDS:-60}

stage_start=0
stage() { stage_name=$1; stage_start=$(date +%s); echo "=== stage: $1"; }
stage_end() { echo "=== stage: $stage_name took $(( $(date +%s) - stage_start ))s"; }

total_start=$(date +%s)
stage install; scripts/install-deps.sh test; stage_end
stage format; cargo fmt --all --check; stage_end
stage build; cargo build --workspace --all-targets --locked; stage_end
stage clippy; cargo clippy --workspace --all-targets --locked -- -D warnings; stage_end
stage test; cargo test --workspace --locked 2>&1 | tee /tmp/spider-cargo-test.log; stage_end
stage ui; scripts/test-ui.sh; stage_end
stage deploy; scripts/test-deploy.sh; stage_end
if [ "$fuzz_seconds" -gt 0 ] && rustup toolchain list | grep -q '^nightly'; then
  stage fuzz
  scripts/fuzz.sh "$fuzz_seconds"
  stage_end
fi
echo "=== all stages took $(( $(date +%s) - total_start ))s"
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' /tmp/spider-cargo-test.log | awk '{s+=$4} END {print s+0}')
echo "$passed passed, 0 failed"
