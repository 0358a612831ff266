#!/usr/bin/env bash
# Builds and runs Spider on this host, installing what is missing first.
# Usage: scripts/run.sh [spider up options]   e.g. scripts/run.sh --data ./spider-data
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/install-deps.sh run
cargo build --release --locked --bin spider
exec "$CARGO_TARGET_DIR/release/spider" up "$@"
