#!/usr/bin/env bash
# What a fleet's coordinator costs per worker: CPU and snapshot bytes per second.
#
#   bash bench/fleet.sh                       # 8 local workers, 20 endpoints, 10 s, 3 runs
#   WORKERS=8 ENDPOINTS=20 DURATION=10 RUNS=3 bash bench/fleet.sh
#   VOLLEY_BIN=target/debug/volley bash bench/fleet.sh   # skip the build
#
# Each run is `volley run --workers WORKERS --headless` of a closed-model scenario with
# ENDPOINTS endpoints (2 VUs per worker) against the bench's private nginx on 127.0.0.1.
# The coordinator prints its own cost at the end ("fleet cost: coordinator CPU ...s over
# ...s (...% of a core); ... snapshot bytes from N workers (... B/s per worker)": the
# snapshots' bytes before the gzip of the gRPC transport); this
# script collects those lines, prints the medians, and the arithmetic for 100 workers
# (coordinator CPU grows with the number of workers: per-worker CPU = CPU / WORKERS).
#
# Traffic goes to 127.0.0.1 only. See docs/fleet.md.

set -euo pipefail

WORKERS="${WORKERS:-8}"
ENDPOINTS="${ENDPOINTS:-20}"
DURATION="${DURATION:-10}"
DURATION="${DURATION%s}"
RUNS="${RUNS:-3}"
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
need_tools
start_nginx
find_volley

work="$(mktemp -d -t volley-fleet-bench.XXXXXX)"
ON_EXIT="rm -rf '$work'"
mkdir -m 700 "$work/runs"
scenario="$work/fleet.toml"
{
    printf 'name = "fleet-bench"\nbase_url = "%s"\n\n[load]\nvus = %d\nduration = "%ss"\n' \
        "$URL" $((WORKERS * 2)) "$DURATION"
    for i in $(seq 1 "$ENDPOINTS"); do
        printf '\n[[request]]\nname = "ep%02d"\npath = "/ep%02d"\n' "$i" "$i"
    done
} >"$scenario"

log "load average: $(cut -d' ' -f1-3 /proc/loadavg) (figures from a loaded machine must be re-taken on a quiet one)"
lines=()
for r in $(seq 1 "$RUNS"); do
    line="$(VOLLEY_RUN_DIR="$work/runs" "$VOLLEY" run "$scenario" --workers "$WORKERS" \
        --headless --progress 60 2>&1 >/dev/null | grep 'fleet cost:' || true)"
    log "run $r: ${line#volley: }"
    lines+=("$line")
done
printf '%s\n' "${lines[@]}" | python3 -c '
import re, statistics, sys
rows = []
for line in sys.stdin:
    m = re.search(r"CPU ([\d.]+)s over ([\d.]+)s .* \(([\d.]+) B/s per worker\)", line)
    if m:
        rows.append(tuple(float(x) for x in m.groups()))
if not rows:
    sys.exit("no fleet cost line")
workers = int(sys.argv[1])
cpu = statistics.median(c / w for c, w, _ in rows)  # cores used by the coordinator
bps = statistics.median(b for _, _, b in rows)
per = cpu / workers
print(f"coordinator: {cpu*100:.1f}% of a core for {workers} workers -> {per*100:.2f}% per worker")
print(f"snapshot stream: {bps:,.0f} B/s per worker")
print(f"100 workers: ~{per*100*100:.0f}% of a core, {bps*100/1e6:.2f} MB/s in (linear in workers)")
' "$WORKERS"
