#!/usr/bin/env bash
# The gateway and UI checks that need more than `cargo test`: the frontend's unit tests (Vitest)
# and build, the browser tests (headless Chromium), the OpenAPI document (openapi-spec-validator),
# schemathesis against a live gateway, and `promtool check metrics` on /metrics.
# Needs: node/npm, /usr/bin/chromium, tshark, promtool (Debian package prometheus),
# python3 -m pip packages schemathesis and openapi-spec-validator (scripts/install-deps.sh test).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
root=$PWD

echo "== frontend: install, typecheck, unit tests, build"
cd frontend
if [ ! -d node_modules ] || ! npm ls --depth=0 >/dev/null 2>&1; then npm ci --no-audit --no-fund --prefer-offline; fi
npx tsc --noEmit
npx vitest run
npx vite build --logLevel warn
cd "$root"

echo "== gateway demo (backend node + gateway with a capture imported)"
cargo build -q -p spider-gateway --example demo
cargo build -q -p spider --bin spider  # attachments in the demo run `spider whisperer`
demo_bin=$CARGO_TARGET_DIR/debug/examples/demo

echo "== browser tests"
(cd frontend && DEMO_BIN=$demo_bin node e2e/run.mjs)
echo "== browser test: a grid over 200k exchanges"
(cd frontend && DEMO_BIN=$demo_bin node e2e/big.mjs)

echo "== OpenAPI, schemathesis, promtool"
out=$(mktemp -d)
coproc DEMO { "$demo_bin" --ui frontend/dist testdata/http-basic.pcap 2>"$out/demo.log"; }
read -r line <&"${DEMO[0]}"
url=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["url"].rstrip("/"))' "$line")
token=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$line")
stop_demo() { exec {DEMO[1]}>&- 2>/dev/null || true; wait "$DEMO_PID" 2>/dev/null || true; rm -rf "$out"; }
trap stop_demo EXIT
curl -fsS "$url/api/v1/openapi.json" -o "$out/openapi.json"
python3 -m openapi_spec_validator "$out/openapi.json"
curl -fsS -H "Authorization: Bearer $token" "$url/api/v1/http?limit=5" >/dev/null
curl -fsS -H "Authorization: Bearer $token" "$url/metrics" -o "$out/metrics.txt"
if command -v promtool >/dev/null; then
  promtool check metrics <"$out/metrics.txt"
else
  python3 -c 'import sys; from prometheus_client.parser import text_string_to_metric_families as p; print(sum(1 for _ in p(open(sys.argv[1]).read())), "metric families parsed")' "$out/metrics.txt"
fi
(cd "$out" && schemathesis run "$url/api/v1/openapi.json" --url "$url" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error \
  --exclude-path /api/v1/live \
  --max-examples 25 --generation-deterministic --request-timeout 30 --no-color)
echo "ui checks: all passed"
