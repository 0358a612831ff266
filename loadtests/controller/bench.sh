#!/usr/bin/env bash
# The Controller's inventory benchmark (issue 6): a synthetic cluster (5,000 pods, 3,000
# services, 50 nodes by default) served by spider-kube-apiserver in its own process, with churn;
# the inventory (the real watchers) in the measured process, examples/inventory_bench.rs.
#
#   loadtests/controller/bench.sh [RUNS]
#
# Environment: PODS, SERVICES, NODES, NAMESPACES, CHURN (operations/s), CHURN_SECS,
# LOOKUP_SECS, CARGO_TARGET_DIR. Prints each run's JSON and the medians.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
PODS=${PODS:-5000}
SERVICES=${SERVICES:-3000}
NODES=${NODES:-50}
NAMESPACES=${NAMESPACES:-40}
CHURN=${CHURN:-10}
CHURN_SECS=${CHURN_SECS:-60}
LOOKUP_SECS=${LOOKUP_SECS:-5}
TARGET=${CARGO_TARGET_DIR:-target}

cargo build --release -q -p spider-kube-apiserver
cargo build --release -q -p spider-controller --example inventory_bench
SERVER="$TARGET/release/spider-kube-apiserver"
BENCH="$TARGET/release/examples/inventory_bench"

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

for run in $(seq 1 "$RUNS"); do
    "$SERVER" --kubeconfig "$WORK/kubeconfig" --max-history 20000 \
        --synthetic-pods "$PODS" --synthetic-services "$SERVICES" --synthetic-nodes "$NODES" \
        --synthetic-namespaces "$NAMESPACES" --seed "$run" --churn-per-second "$CHURN" \
        --report-secs 10 >"$WORK/url" 2>"$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 1 600); do [ -s "$WORK/url" ] && break; sleep 0.1; done
    [ -s "$WORK/url" ] || { cat "$WORK/server.log"; exit 1; }
    "$BENCH" "$WORK/kubeconfig" "$CHURN_SECS" "$LOOKUP_SECS" >"$WORK/run-$run.json"
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
    events=$(grep '^churn:' "$WORK/server.log" | tail -1 | sed -E 's/.*\(([0-9.]+) events\/s\).*/\1/')
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["churn_events_per_second"]=float(sys.argv[2] or 0); json.dump(d,open(sys.argv[1],"w"))' \
        "$WORK/run-$run.json" "${events:-0}"
    echo "run $run: $(cat "$WORK/run-$run.json")"
    head -1 "$WORK/server.log" | sed 's/^/  server: /'
done

python3 - "$WORK"/run-*.json <<'PY'
import json, statistics, sys
runs = [json.load(open(f)) for f in sys.argv[1:]]
print(f"medians of {len(runs)} runs:")
for key in ["sync_seconds", "rss_synced_mb", "rss_peak_mb", "rss_steady_mb", "rss_end_mb",
            "cpu_seconds_per_churn_minute", "inventory_updates", "churn_events_per_second",
            "lookups_per_second", "lookups_named", "pods", "services", "endpoint_slices",
            "workloads", "nodes"]:
    values = [r[key] for r in runs if key in r]
    print(f"  {key}: {statistics.median(values):.3f}  (min {min(values):.3f}, max {max(values):.3f})")
PY
