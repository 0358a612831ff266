#!/usr/bin/env bash
# Benchmark `spider analyze` beside tshark and httpry on one capture.
#
#   bench.sh [FILE]      default FILE: /var/tmp/spider-bench/http-load-1m.pcap
#                        (record it with record-load.sh)
#
# Builds spider in release, then runs ROUNDS rounds (default 5); each round
# times, on the same file and in a rotating order:
#   spider   spider analyze FILE --format ndjson > /dev/null
#   tshark   tshark -r FILE -Y http.request -T fields -e http.host -e http.request.uri > /dev/null
#   httpry   httpry -r FILE > /dev/null
#   cat      cat FILE > /dev/null            (reading the file alone)
#   spider-nohttp  the same spider run with --kinds tcp_session,dns,host: the
#            whole analysis, but the HTTP records are not serialised (shows
#            what the JSON output of the HTTP records costs)
# with /usr/bin/time (wall seconds, max RSS, user+sys CPU).  The file is read
# once first so that every tool finds it in the page cache.  Prints a markdown
# table of medians, the throughput ratios against the targets, and a
# correctness check: the HTTP requests each tool finds (compare.py).
#
# Environment: ROUNDS (5), SKIP_BUILD=1 (use the binary already built),
# OUT_DIR (/var/tmp/spider-bench/out: raw timings and the tools' outputs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
FILE=${1:-/var/tmp/spider-bench/http-load-1m.pcap}
ROUNDS=${ROUNDS:-5}
OUT_DIR=${OUT_DIR:-/var/tmp/spider-bench/out}
TOOLS=(spider tshark httpry cat spider-nohttp)

log() { echo "[bench] $*" >&2; }
die() { log "error: $*"; exit 1; }

need() {  # need COMMAND PACKAGE: install the Debian package if COMMAND is missing
    command -v "$1" >/dev/null && return 0
    [ "$(id -u)" = 0 ] || die "$1 missing (apt-get install $2)"
    log "installing $2"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null; }
    command -v "$1" >/dev/null || die "$1 still missing after installing $2"
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

tool_cmd() {  # tool_cmd TOOL: set CMD to the command line
    case $1 in
    spider) CMD=("$SPIDER" analyze "$FILE" --format ndjson) ;;
    spider-nohttp) CMD=("$SPIDER" analyze "$FILE" --format ndjson --kinds tcp_session,dns,host) ;;
    tshark) CMD=(tshark -r "$FILE" -Y http.request -T fields -e http.host -e http.request.uri) ;;
    httpry) CMD=(httpry -r "$FILE") ;;
    cat)    CMD=(cat "$FILE") ;;
    esac
}

time_tool() {  # time_tool TOOL ROUND: append "TOOL ROUND wall rss_kb user sys" to $RAW
    local tool=$1 round=$2 t=$OUT_DIR/time.$1
    tool_cmd "$tool"
    /usr/bin/time -f '%e %M %U %S' -o "$t" "${CMD[@]}" >/dev/null 2>"$OUT_DIR/stderr.$tool" ||
        die "$tool failed (round $round): $(tail -n 3 "$OUT_DIR/stderr.$tool")"
    echo "$tool $round $(tail -n 1 "$t")" >>"$RAW"
}

main() {
    need tshark tshark
    need capinfos wireshark-common
    need httpry httpry
    [ -x /usr/bin/time ] || need time time
    [ -r "$FILE" ] || die "no capture $FILE (record it: $HERE/record-load.sh $FILE)"
    mkdir -p "$OUT_DIR"
    RAW=$OUT_DIR/timings.txt
    : >"$RAW"

    # shellcheck disable=SC1091
    . "$REPO/scripts/env.sh"
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        log "building spider (release)"
        (cd "$REPO" && cargo build --release --bin spider -q) || die "build failed"
    fi
    SPIDER=$CARGO_TARGET_DIR/release/spider
    [ -x "$SPIDER" ] || die "no $SPIDER"

    local packets bytes
    packets=$(capinfos -c -M "$FILE" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
    bytes=$(stat -c %s "$FILE")
    log "$FILE: $packets packets, $bytes bytes; $ROUNDS rounds"
    cat "$FILE" >/dev/null   # page cache

    local r i k tool
    for r in $(seq 1 "$ROUNDS"); do
        for i in "${!TOOLS[@]}"; do
            k=$(( (i + r - 1) % ${#TOOLS[@]} ))
            tool=${TOOLS[$k]}
            time_tool "$tool" "$r"
        done
        log "round $r: $(awk -v r="$r" '$2==r {printf "%s %ss  ", $1, $3}' "$RAW")"
    done

    # ------------------------------------------------------------ table
    declare -A MED RSS CPU
    for tool in "${TOOLS[@]}"; do
        MED[$tool]=$(awk -v t="$tool" '$1==t {print $3}' "$RAW" | median)
        RSS[$tool]=$(awk -v t="$tool" '$1==t && $4>m {m=$4} END {printf "%.0f", m/1024}' "$RAW")
        # CPU time / wall time, median over the rounds (100% = one core busy)
        CPU[$tool]=$(awk -v t="$tool" '$1==t && $3>0 {print 100*($5+$6)/$3}' "$RAW" | median)
    done
    echo
    echo "Capture: \`$FILE\`: $packets packets, $(awk -v b="$bytes" 'BEGIN {printf "%.0f", b/1048576}') MiB; median of $ROUNDS rounds."
    echo
    echo "| tool | median wall (s) | packets/s | MiB/s | max RSS (MiB) | CPU (user+sys / wall) |"
    echo "|---|---:|---:|---:|---:|---:|"
    for tool in "${TOOLS[@]}"; do
        awk -v t="$tool" -v s="${MED[$tool]}" -v p="$packets" -v b="$bytes" -v m="${RSS[$tool]}" -v c="${CPU[$tool]}" \
            'BEGIN {printf "| %s | %.2f | %.0f | %.0f | %d | %.0f%% |\n", t, s, (s>0? p/s : 0), (s>0? b/1048576/s : 0), m, c}'
    done
    echo
    awk -v s="${MED[spider]}" -v t="${MED[tshark]}" -v h="${MED[httpry]}" -v p="$packets" 'BEGIN {
        printf "- spider / tshark throughput: %.1fx (target >= 30x: %s)\n", t/s, (t/s >= 30 ? "met" : "NOT met")
        printf "- spider / httpry throughput: %.2fx (target >= 1x: %s)\n", h/s, (h/s >= 1 ? "met" : "NOT met")
        printf "- spider packets/s on one core: %.0f (target >= 1,000,000: %s)\n", p/s, (p/s >= 1000000 ? "met" : "NOT met")
    }'
    awk -v n="$(nproc)" -v s="${CPU[spider]}" -v t="${CPU[tshark]}" -v h="${CPU[httpry]}" 'BEGIN {
        printf "- cores: %d. spider analyze is single-threaded (%.0f%% of one core); tshark used %.0f%% and httpry %.0f%% (over 100%% would mean a second core)\n", n, s, t, h
    }'
    awk -v s="${MED[spider]}" -v a="${MED[spider-nohttp]}" 'BEGIN {
        printf "- spider-nohttp: the same analysis without writing the HTTP records: %.2f s, so their JSON output takes %.0f%% of spider'"'"'s time\n", a, 100*(s-a)/s
    }'

    # ------------------------------------------------------------ correctness
    log "correctness: running each tool once more, keeping the outputs in $OUT_DIR"
    "$SPIDER" analyze "$FILE" --format ndjson >"$OUT_DIR/spider.ndjson" 2>"$OUT_DIR/spider.err" || true
    tshark -r "$FILE" -Y http.request -T fields -e http.request.method -e http.host \
        -e http.request.uri >"$OUT_DIR/tshark.tsv" 2>/dev/null
    httpry -r "$FILE" >"$OUT_DIR/httpry.out" 2>/dev/null
    local n_spider n_tshark n_tshark_lines n_httpry
    n_spider=$(grep -c '"kind":"http"' "$OUT_DIR/spider.ndjson" || true)
    n_tshark_lines=$(tshark -r "$FILE" -Y http.request 2>/dev/null | wc -l)
    n_tshark=$(wc -l <"$OUT_DIR/tshark.tsv")
    n_httpry=$(awk -F'\t' '$4==">"' "$OUT_DIR/httpry.out" | wc -l)
    echo
    echo "Correctness (HTTP requests found):"
    echo
    echo "| spider (\`\"kind\":\"http\"\` records) | tshark (\`-Y http.request\` frames) | httpry (\`>\` lines) |"
    echo "|---:|---:|---:|"
    echo "| $n_spider | $n_tshark_lines | $n_httpry |"
    [ "$n_tshark" = "$n_tshark_lines" ] || echo "(tshark -T fields printed $n_tshark lines)"
    if [ -s "$OUT_DIR/spider.err" ]; then
        echo; echo "spider stderr:"; echo '```'; head -n 20 "$OUT_DIR/spider.err"; echo '```'
    fi
    echo
    echo '```'
    python3 "$HERE/compare.py" "$OUT_DIR/spider.ndjson" "$OUT_DIR/tshark.tsv" "$OUT_DIR/httpry.out" || true
    echo '```'
}

main "$@"
