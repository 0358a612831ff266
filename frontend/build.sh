#!/usr/bin/env bash
# Builds the UI into frontend/dist (what `spider gateway --ui` and `spider up` serve).
# Installs the locked packages first when node_modules is missing or stale. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --prefer-offline
fi
npx vite build --logLevel warn
echo "frontend built: $(pwd)/dist"
