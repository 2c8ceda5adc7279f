#!/usr/bin/env bash
# Memory and throughput over a long run at full speed: is RSS flat, does rps drift?
#
#   bash bench/soak.sh                          # 10 minutes, 50 VUs, 20 endpoints, headless
#   CONSOLE=1 bash bench/soak.sh                # the same with the full-screen console open
#   MINUTES=3 VUS=100 bash bench/soak.sh
#   VOLLEY_BIN=/path/to/volley bash bench/soak.sh
#
# volley runs a scenario of ENDPOINTS weighted requests (20 by default, distinct paths)
# with VUS VUs and no think time against a private 1-worker nginx on 127.0.0.1 for
# MINUTES minutes. RSS (VmRSS of the volley process) is sampled every 10 s. At the end
# the table gives RSS after 1 minute and at the end, and the rps and volley's CPU per
# request of the first and the last full minute (rps from the run's own per-second
# timeline in the JSON result, CPU from /proc), with the drift between them. With CONSOLE=1, volley runs under script(1) in a 100x30
# pseudo-terminal, as someone watching the run would see it.
#
# Traffic goes to 127.0.0.1 only. See docs/performance.md ("Memory over time").

set -euo pipefail

MINUTES="${MINUTES:-10}"
VUS="${VUS:-50}"
ENDPOINTS="${ENDPOINTS:-20}"
CONSOLE="${CONSOLE:-0}"
case "$MINUTES$VUS$ENDPOINTS$CONSOLE" in
*[!0-9]*) echo "MINUTES, VUS, ENDPOINTS and CONSOLE must be whole numbers" >&2; exit 2 ;;
esac
[ "$MINUTES" -ge 2 ] || { echo "MINUTES must be at least 2" >&2; exit 2; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$HERE/out/soak-$STAMP"
mkdir -p "$OUT"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
need_tools
RUN_PID=""
ON_EXIT='if [ -n "$RUN_PID" ]; then pkill -TERM -P "$RUN_PID" 2>/dev/null; kill -TERM "$RUN_PID" 2>/dev/null; fi'
start_nginx 4096
find_volley

SCENARIO="$OUT/soak.toml"
{
    echo "name = \"soak $ENDPOINTS endpoints\""
    echo "base_url = \"$URL\""
    echo "[load]"
    echo "vus = $VUS"
    echo "duration = \"${MINUTES}m\""
    for i in $(seq 1 "$ENDPOINTS"); do
        echo "[[request]]"
        echo "name = \"endpoint-$i\""
        echo "path = \"/api/e$i?page=1\""
        echo "weight = $(((i % 4) + 1))"
    done
} >"$SCENARIO"

log "soak: $VUS VUs, $ENDPOINTS endpoints, $MINUTES min, console=$CONSOLE; load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$CONSOLE" = 1 ]; then
    command -v script >/dev/null 2>&1 || need_tools bsdutils
    inner="stty cols 100 rows 30; exec $(printf '%q ' "$VOLLEY" run "$SCENARIO" --threads 1 --out "json=$OUT/result.json")"
    (sleep $((MINUTES * 60 + 5)); printf q) | script -qec "$inner" /dev/null >"$OUT/console.out" 2>&1 &
else
    "$VOLLEY" run "$SCENARIO" --headless --threads 1 --out "json=$OUT/result.json" >"$OUT/summary.txt" 2>"$OUT/progress.txt" &
fi
RUN_PID=$!
START=$(date +%s)

# The volley processes (under script(1) a grandchild). With the console, volley runs
# the load in a process of its own (the run host, so that the run can outlive the
# terminal) beside the console's: both have the same command line, and RSS and CPU are
# their sums.
VPIDS=""
for _ in $(seq 100); do
    VPIDS="$(pgrep -f "^$VOLLEY run $SCENARIO" || true)"
    [ -n "$VPIDS" ] && break
    sleep 0.1
done
[ -n "$VPIDS" ] || { log "volley did not start"; exit 1; }
[ "$CONSOLE" = 1 ] && sleep 2 && VPIDS="$(pgrep -f "^$VOLLEY run $SCENARIO" || true)"
log "volley processes: $(echo $VPIDS)"

CLK_TCK="$(getconf CLK_TCK)"
echo -e "elapsed_s\trss_kb\tcpu_ticks" >"$OUT/rss.tsv"
declare -A LAST_CPU=()
alive() {
    local p
    for p in $VPIDS; do kill -0 "$p" 2>/dev/null && return 0; done
    return 1
}
while alive; do
    rss=0
    cpu=0
    for p in $VPIDS; do
        r="$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)"
        # utime + stime of the whole process (all threads), in clock ticks.
        c="$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}' || true)"
        # A process that has ended keeps its last CPU figure in the sum.
        [ -n "$c" ] && LAST_CPU[$p]="$c"
        rss=$((rss + ${r:-0}))
        cpu=$((cpu + ${LAST_CPU[$p]:-0}))
    done
    [ "$rss" -gt 0 ] && printf '%s\t%s\t%s\n' "$(($(date +%s) - START))" "$rss" "$cpu" >>"$OUT/rss.tsv"
    sleep 10
done
wait "$RUN_PID" || true
RUN_PID=""

python3 - "$OUT" "$MINUTES" "$VUS" "$ENDPOINTS" "$CONSOLE" "$CLK_TCK" <<'PY' | tee "$OUT/table.md"
import csv, json, sys
out, minutes, vus, eps, console = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "1"
hz = float(sys.argv[6])
d = json.load(open(f"{out}/result.json"))
rows = d["timeline"]
def minute_rps(first_t):
    sel = [r for r in rows if first_t <= r["t"] < first_t + 60]
    secs = sum(r["dt"] for r in sel)
    return sum(r["requests"] for r in sel) / secs if secs else float("nan")
last_full = int(d["run_time_s"]) - 60
first, last = minute_rps(0), minute_rps(max(last_full, 60))
samples = [(int(a), int(b), int(c)) for a, b, c in csv.reader(open(f"{out}/rss.tsv"), delimiter="\t") if a.isdigit()]
rss = [(t, kb) for t, kb, _ in samples]
def cpu_at(t):
    return min(samples, key=lambda x: abs(x[0] - t))[2] / hz if samples else float("nan")
def minute_cpu_us(first_t):
    """volley's CPU per request over one minute (µs): steady unless volley itself drifts,
    whatever else the machine is doing."""
    n = sum(r["requests"] for r in rows if first_t <= r["t"] < first_t + 60)
    return (cpu_at(first_t + 60) - cpu_at(first_t)) * 1e6 / n if n else float("nan")
def rss_at(t):
    return min(rss, key=lambda x: abs(x[0] - t))[1] / 1024 if rss else float("nan")
end = rss[-1][1] / 1024 if rss else float("nan")
last_t = max(last_full, 60)
cpu_first, cpu_last = minute_cpu_us(0), minute_cpu_us(last_t)
print(f"| mode | VUs | endpoints | minutes | requests | RSS 1 min MB | RSS end MB | RSS growth MB | rps 1st min | rps last min | rps drift | CPU µs/req 1st min | last min | CPU drift | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
print(f"| {'console' if console else 'headless'} | {vus} | {eps} | {minutes} | {d['totals']['requests']:,} | {rss_at(60):.1f} | {end:.1f} | {end - rss_at(60):+.1f} | {first:,.0f} | {last:,.0f} | {100 * (last / first - 1):+.1f}% | {cpu_first:.2f} | {cpu_last:.2f} | {100 * (cpu_last / cpu_first - 1):+.1f}% | {d['totals']['errors']} |")
print()
print("RSS MB by minute: " + ", ".join(f"{t // 60}m {kb / 1024:.1f}" for t, kb in rss if t % 60 < 10))
print("rps by minute: " + ", ".join(f"{m}m {minute_rps(60 * m):,.0f}" for m in range(minutes)))
print("CPU µs/req by minute: " + ", ".join(f"{m}m {minute_cpu_us(60 * m):.2f}" for m in range(minutes)))
print()
print("rps per minute moves with whatever else runs on the machine; CPU µs per request is")
print("volley's own cost, so a drift in it (not in rps) would be volley's.")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); files: ${OUT#"$REPO"/}"
