#!/usr/bin/env bash
# The soak test (issue 9): every role as real processes, in throwaway namespaces, at a fraction
# of its measured maximum for a long time; RSS, drops, refusals and query latency sampled; a
# report (samples.csv, report.json) and a verdict on memory flatness. See
# loadtests/soak/src/main.rs and BENCHMARKS.md `## soak`.
#
#   loadtests/soak/soak.sh [spider-soak arguments…]     e.g. --duration 10m, --duration 2h,
#                                                       --fraction 0.5, --max-rps 2500
#
# Environment: PROFILE (release by default; `debug` reuses a test build), CARGO_TARGET_DIR.
# Needs root (network namespaces, AF_PACKET; eBPF for the Gocipher, skipped where the kernel
# cannot), iproute2, nsenter. Namespaces `wtops-soak-*` on 10.89.7.0/24, forwarding off; they and
# every process are removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROFILE=${PROFILE:-release}
TARGET=${CARGO_TARGET_DIR:-target}
if [ "$PROFILE" = release ]; then
    cargo build --release -q -p spider -p spider-kube-apiserver -p spider-soak
else
    cargo build -q -p spider -p spider-kube-apiserver -p spider-soak
fi
BIN="$TARGET/$PROFILE"
exec "$BIN/spider-soak" --spider "$BIN/spider" --kube-apiserver "$BIN/spider-kube-apiserver" "$@"
