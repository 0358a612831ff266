#!/usr/bin/env bash
# Builds and runs Spider on this host, installing what is missing first.
# Usage: scripts/run.sh [spider up options]   e.g. scripts/run.sh --data ./spider-data
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/install-deps.sh run
(cd frontend && npx vite build --logLevel warn)
cargo build --release --locked --bin spider
export SPIDER_UI_DIR=$PWD/frontend/dist
exec "$CARGO_TARGET_DIR/release/spider" up "$@"
