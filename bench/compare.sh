#!/usr/bin/env bash
# Compare volley with wrk (and oha, if installed) against a local nginx.
#
#   bash bench/compare.sh                      # 50 connections, 5 s, 3 interleaved runs
#   CONNS=100 DURATION=10 RUNS=5 bash bench/compare.sh
#   VOLLEY_BIN=/path/to/volley bash bench/compare.sh   # skip the cargo build
#   ONLY="wrk volley-t1 volley-console-t1" bash bench/compare.sh   # a subset of the tools
#   CPU_LIMIT=25 bash bench/compare.sh         # each tool gets 25% of one core (a cgroup)
#   MODE=h2 bash bench/compare.sh              # HTTP/2: nginx speaking h2c, volley --http2
#                                              # beside oha --http2 and h2load (nghttp2-client)
#   MODE=selfwatch RUNS=6 bash bench/compare.sh   # what self-watch costs: volley-t1 with
#                                              # and without it (--no-self-watch)
#   MODE=open RATE=50000 bash bench/compare.sh # the open model: volley's closed model (its
#                                              # max rps), its open model at RATE/s and
#                                              # oha -q RATE --latency-correction
#   MODE=open RATE=0.9x bash bench/compare.sh  # ... the open rate at 0.9 x the same round's
#                                              # closed-model rps (the "0.9x the max" check)
#   MODE=open VOLLEY_BASE=/path/to/old/volley bash bench/compare.sh   # A/B: an older
#                                              # build's open model (base-open-tN) in the
#                                              # same rounds, and new / base ratios
#   THREADS="1 2" bash bench/compare.sh        # volley at each engine thread count, with
#                                              # per-thread efficiency against 1 thread
#   THREADS="1 2" CPU_LIMIT=25 bash bench/compare.sh   # ... each run limited to
#                                              # threads x 25% of a core: the scaling check
#
# MODE=open: volley-closed-tN (CONNS VUs, no think time: the most this target serves),
# volley-open-tN (a scenario with rate = RATE/s, max_vus = MAX_VUS, default 2000) and
# oha-q (`oha -q RATE --latency-correction -c CONNS`, if installed), interleaved. The
# table adds dropped iterations and connections opened; the ratio table gives the open
# model's rps, CPU per request and p99 against the closed model's and oha's in the same
# round. RATE=Fx (0.9x, say) sets each round's open rate (volley's and oha's) to F times
# the rps volley's closed model made just before in that round, so that the open model is
# asked for a fixed share of what the target served at that moment (its capacity moves
# between rounds on a shared machine); the raw table gives each run's rate. volley's open-model p50/p99 are corrected for coordinated omission (measured
# from when each request was due), as oha's with --latency-correction.
#
# THREADS (a list, default "1" in MODE=open, the usual t1/t2 columns otherwise): one
# volley column per thread count (volley-tN, or volley-closed-tN and volley-open-tN).
# Per-thread efficiency = rps at N threads / (N x rps at 1 thread) in the same round, and
# CPU per request at N over 1. With CPU_LIMIT, a run at N threads gets N x CPU_LIMIT% of a
# core (wrk and oha get 1x), so that efficiency measures how the engine scales when it is
# the limit.
#
# MODE=h2 (cleartext HTTP/2 with prior knowledge, one stream in flight per connection,
# CONNS connections): volley-h2-t1 and volley-h2-t2 (`--http2`), oha-h2 (`oha --http2`,
# if installed) and h2load (`h2load -m 1 -t 1`, Debian's nghttp2-client, installed if
# missing and root); the ratio table compares volley to each. h2load reports no
# percentiles (p50/p99 n/a).
#
# Every tool gets the same closed-model load (CONNS keep-alive connections, no think
# time, DURATION seconds) against an nginx started here on 127.0.0.1 (one worker, a
# 13-byte static body). Each run is wrapped in /usr/bin/time for wall time, user+sys
# CPU and max RSS. Tools are interleaved (A B C, A B C, ...) so that background noise
# hits all of them alike; the table shows per-tool medians over RUNS runs, and the rps
# ratio to wrk's rps in the same round. Raw numbers go to bench/out/<stamp>/raw.tsv.
#
# Traffic goes to 127.0.0.1 only. See docs/performance.md.

set -euo pipefail

CONNS="${CONNS:-50}"
DURATION="${DURATION:-5}"
DURATION="${DURATION%s}" # accept "5s" as well as "5"
RUNS="${RUNS:-3}"
MODE="${MODE:-h1}"
case "$MODE" in
h1 | h2 | selfwatch | open) ;;
*) echo "MODE is h1 (the default), h2, selfwatch or open" >&2; exit 2 ;;
esac
RATE="${RATE:-20000}"
RATE="${RATE%/s}"
MAX_VUS="${MAX_VUS:-2000}"
THREADS="${THREADS:-}"
# RATE=0.9x: a share of each round's closed-model rps (see MODE=open above).
RATE_FACTOR=""
if [[ "$RATE" =~ ^(0|[1-9][0-9]*)?\.?[0-9]+x$ ]]; then
    [ "$MODE" = open ] || { echo "RATE=Fx needs MODE=open" >&2; exit 2; }
    RATE_FACTOR="${RATE%x}"
    RATE=1
fi

case "$CONNS$DURATION$RUNS$RATE$MAX_VUS${THREADS// /}" in
*[!0-9]*) echo "CONNS, DURATION (seconds) and RUNS must be whole numbers" >&2; exit 2 ;;
esac

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$HERE/out/$STAMP"
mkdir -p "$OUT"
RAW="$OUT/raw.tsv"

# --- 1-3. tools, nginx, volley (bench/lib.sh) ---------------------------------------
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
HAVE_OHA=0
command -v oha >/dev/null 2>&1 && HAVE_OHA=1
if [ "$MODE" = h2 ]; then
    need_tools
    if ! command -v h2load >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
        log "installing: nghttp2-client (h2load)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client >/dev/null || true
    fi
    export NGINX_H2=1
elif [ "$MODE" = selfwatch ] || [ "$MODE" = open ]; then
    need_tools
else
    need_tools wrk
fi
HAVE_H2LOAD=0
command -v h2load >/dev/null 2>&1 && HAVE_H2LOAD=1
TOOL_PID="" # /usr/bin/time wrapping the tool that is running, if any
ON_EXIT='if [ -n "$TOOL_PID" ]; then pkill -TERM -P "$TOOL_PID" 2>/dev/null; kill -TERM "$TOOL_PID" 2>/dev/null; fi'
start_nginx 4096
find_volley
REQWEST_LOOP=""
if [ "$MODE" = h1 ] && [[ " ${ONLY:-reqwest-loop-t1} " == *" reqwest-loop-t1 "* ]]; then
    log "building examples/reqwest_loop (the reqwest path's ceiling) ..."
    (cd "$REPO" && cargo build --profile profiling --quiet --example reqwest_loop) || {
        log "cargo build --example reqwest_loop failed"
        exit 1
    }
    REQWEST_LOOP="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/profiling/examples/reqwest_loop"
fi
# With CPU_LIMIT, one cgroup per core count: wrap_for N sets CPU_WRAP for a tool that may
# use N x CPU_LIMIT% of a core.
declare -A WRAPS=()
if [ -n "${CPU_LIMIT:-}" ]; then
    case "$CPU_LIMIT" in *[!0-9]* | "") echo "CPU_LIMIT is a percentage of one core" >&2; exit 2 ;; esac
    for n in 1 ${THREADS}; do
        if [ -z "${WRAPS[$n]:-}" ]; then
            cpu_limit "$CPU_LIMIT" "$n"
            WRAPS[$n]="$(printf '%q ' "${CPU_WRAP[@]}")"
        fi
    done
fi
wrap_for() {
    CPU_WRAP=()
    local w="${WRAPS[$1]:-${WRAPS[1]:-}}"
    if [ -n "$w" ]; then
        eval "CPU_WRAP=($w)"
    fi
}
# The open model's scenario: one GET of URL at RATE/s on at most MAX_VUS VUs.
OPEN_TOML="$OUT/open.toml"
open_toml() {
    cat >"$OPEN_TOML" <<TOML
name = "bench open model"
base_url = "${URL%/}"
[load]
model = "open"
rate = "$RATE/s"
max_vus = $MAX_VUS
duration = "${DURATION}s"
[[request]]
path = "/"
TOML
}
[ "$MODE" = open ] && open_toml
# RATE=Fx: after volley-closed-tN's run, RATE becomes F x its rps for the open runs after
# it in that round (volley-open-tN and oha-q).
rate_from_closed() {
    RATE="$(python3 -c 'import json,sys; print(max(1, round(float(sys.argv[2]) * json.load(open(sys.argv[1]))["totals"]["rps"])))' "$1" "$RATE_FACTOR" 2>/dev/null || echo 1)"
    open_toml
}

# --- 4. one run of one tool ---------------------------------------------------------
if [ "$MODE" = h2 ]; then
    TOOLS=()
    [ "$HAVE_OHA" = 1 ] && TOOLS+=(oha-h2)
    if [ "$HAVE_H2LOAD" = 1 ]; then
        TOOLS+=(h2load)
    else
        log "no h2load (apt-get install nghttp2-client): skipping it"
    fi
    TOOLS+=(volley-h2-t1 volley-h2-t2)
elif [ "$MODE" = selfwatch ]; then
    TOOLS=(volley-t1 volley-noselfwatch-t1)
elif [ "$MODE" = open ]; then
    TOOLS=()
    for n in ${THREADS:-1}; do
        TOOLS+=("volley-closed-t$n" "volley-open-t$n")
        [ -n "${VOLLEY_BASE:-}" ] && TOOLS+=("base-open-t$n")
    done
    if [ "$HAVE_OHA" = 1 ]; then
        TOOLS+=(oha-q)
    else
        log "no oha on PATH (cargo install oha --locked): skipping oha-q"
    fi
elif [ -n "$THREADS" ]; then
    TOOLS=(wrk)
    [ "$HAVE_OHA" = 1 ] && TOOLS+=(oha)
    for n in $THREADS; do
        TOOLS+=("volley-t$n")
    done
else
    TOOLS=(wrk)
    [ "$HAVE_OHA" = 1 ] && TOOLS+=(oha)
    TOOLS+=(volley-t1)
    if command -v script >/dev/null 2>&1; then
        TOOLS+=(volley-console-t1)
    else
        log "no script(1) (bsdutils): skipping volley-console-t1"
    fi
    TOOLS+=(volley-hyper-t1 volley-t2 volley-reqwest-t1 reqwest-loop-t1)
fi
if [ -n "${ONLY:-}" ]; then # e.g. ONLY="wrk volley-t1 volley-console-t1"
    read -r -a TOOLS <<<"$ONLY"
fi

# One snapshot: "<monotonic s> <machine busy CPU s> <nginx worker CPU s> <requests
# nginx served>".
# Machine busy CPU is from /proc/stat (all cores, idle and iowait excluded); the
# request count is from stub_status (the status request itself included).
snapshot() {
    python3 - "${NGINX_WORKER:-0}" "$STATUS_URL" <<'PY'
import os, sys, time, urllib.request
hz = os.sysconf("SC_CLK_TCK")
now = time.clock_gettime(time.CLOCK_MONOTONIC)
f = open("/proc/stat").readline().split()[1:]
busy = sum(int(f[i]) for i in (0, 1, 2, 5, 6, 7)) / hz
try:
    w = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
    srv = (int(w[11]) + int(w[12])) / hz
except OSError:
    srv = -1
try:
    text = urllib.request.urlopen(sys.argv[2], timeout=5).read().decode()
    served = int(text.splitlines()[2].split()[2])
except Exception:
    served = -1
print(now, busy, srv, served)
PY
}

# Runs one tool; appends one TSV line to $RAW.
run_one() {
    local round="$1" tool="$2"
    local base="$OUT/r${round}-${tool}"
    local cmd threads=1
    if [[ "$tool" =~ ^(volley|base)-.*-?t([0-9]+)$ ]]; then
        threads="${BASH_REMATCH[2]}"
    fi
    case "$tool" in
    wrk) cmd=(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$URL") ;;
    oha-q) cmd=(oha -z "${DURATION}s" -c "$CONNS" -q "$RATE" --latency-correction --no-tui "$URL") ;;
    volley-closed-t*) cmd=("$VOLLEY" "$URL" -c "$CONNS" -d "${DURATION}s" --headless --threads "$threads" --out "json=$base.json") ;;
    volley-open-t*) cmd=("$VOLLEY" run "$OPEN_TOML" --headless --threads "$threads" --out "json=$base.json") ;;
    base-open-t*) cmd=("$VOLLEY_BASE" run "$OPEN_TOML" --headless --threads "$threads" --out "json=$base.json") ;;
    oha) cmd=(oha -z "${DURATION}s" -c "$CONNS" --no-tui "$URL") ;;
    oha-h2) cmd=(oha -z "${DURATION}s" -c "$CONNS" --no-tui --http2 "$URL") ;;
    # h2c with prior knowledge (h2load's default for http://), one stream per connection.
    h2load) cmd=(h2load -c "$CONNS" -m 1 -t 1 -D "$DURATION" "$URL") ;;
    volley-h2-t1) cmd=("$VOLLEY" "$URL" -c "$CONNS" -d "${DURATION}s" --headless --http2 --threads 1 --out "json=$base.json") ;;
    volley-h2-t2) cmd=("$VOLLEY" "$URL" -c "$CONNS" -d "${DURATION}s" --headless --http2 --threads 2 --out "json=$base.json") ;;
    volley-noselfwatch-t1) cmd=("$VOLLEY" "$URL" -c "$CONNS" -d "${DURATION}s" --headless --threads 1 --no-self-watch --out "json=$base.json") ;;
    volley-t[0-9]*) cmd=("$VOLLEY" "$URL" -c "$CONNS" -d "${DURATION}s" --headless --threads "$threads" --out "json=$base.json") ;;
    volley-console-t1)
        # The full-screen console, in a 100x30 pseudo-terminal from script(1); it waits
        # for q once the run is done, so q is typed a second after the planned end.
        local inner
        inner="stty cols 100 rows 30; exec $(printf '%q ' "$VOLLEY" "$URL" -c "$CONNS" -d "${DURATION}s" --threads 1 --out "json=$base.json")"
        cmd=(bash -c "(sleep $((DURATION + 1)); printf q) | script -qec ${inner@Q} /dev/null")
        ;;
    volley-hyper-t1) cmd=("$VOLLEY" "$URL" -c "$CONNS" -d "${DURATION}s" --headless --client hyper --threads 1 --out "json=$base.json") ;;
    volley-reqwest-t1) cmd=("$VOLLEY" "$URL" -c "$CONNS" -d "${DURATION}s" --headless --client reqwest --threads 1 --out "json=$base.json") ;;
    # The reqwest path's ceiling: a bare reqwest loop (examples/reqwest_loop.rs).
    reqwest-loop-t1) cmd=("$REQWEST_LOOP" "$URL" "$CONNS" "$DURATION") ;;
    esac
    wrap_for "$threads"
    if [ "${#CPU_WRAP[@]}" -gt 0 ]; then
        cmd=("${CPU_WRAP[@]}" "${cmd[@]}")
    fi
    printf '%q ' "${cmd[@]}" >"$base.cmd"
    local before after rc=0
    before="$(snapshot)"
    # In the background and waited for, so that Ctrl-C runs the INT trap at once (bash
    # would ignore it after a foreground tool that handles SIGINT itself, as wrk does).
    /usr/bin/time -f '%e %U %S %M' -o "$base.time" "${cmd[@]}" >"$base.stdout" 2>"$base.stderr" </dev/null &
    TOOL_PID=$!
    wait "$TOOL_PID" || rc=$?
    TOOL_PID=""
    after="$(snapshot)"
    if [ -n "$RATE_FACTOR" ] && [[ "$tool" == volley-closed-t* ]]; then
        rate_from_closed "$base.json"
        log "round $round: open rate ${RATE_FACTOR} x the closed model's rps = $RATE/s"
    fi
    case "$tool" in volley-open-t* | base-open-t* | oha-q) echo "$RATE" >"$base.rate" ;; esac
    python3 - "$tool" "$base" "$round" "$rc" "$before" "$after" >>"$RAW" <<'PY'
import json, re, sys
tool, base, rnd, rc, before, after = sys.argv[1:]
t0, busy0, srv0, n0 = (float(x) for x in before.split())
t1, busy1, srv1, n1 = (float(x) for x in after.split())
# Requests nginx served during the run (the second status request excluded).
served = int(n1 - n0 - 1) if n0 >= 0 and n1 >= 0 else "NA"
na = "NA"
req = rps = p50 = p99 = errs = dropped = opened = na
def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "secs": 1e3}[unit]
try:
    out = open(base + ".stdout").read()
    if tool == "wrk":
        m = re.search(r"(\d+) requests in", out); req = int(m.group(1))
        m = re.search(r"Requests/sec:\s*([\d.]+)", out); rps = float(m.group(1))
        m = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s|m)\b", out, re.M); p50 = ms(*m.groups())
        m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\b", out, re.M); p99 = ms(*m.groups())
        e = 0
        m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
        if m: e += int(m.group(1))
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        if m: e += sum(int(x) for x in m.groups())
        errs = e
    elif tool == "h2load":
        # "finished in 5.00s, 45231.40 req/s, ..." and "requests: N total, N started,
        # N done, N succeeded, N failed, N errored, N timeout"; no percentiles.
        m = re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out); rps = float(m.group(1))
        m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", out)
        req = int(m.group(1)); errs = sum(int(x) for x in m.groups()[1:])
        m = re.search(r"status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx", out)
        if m: errs += int(m.group(1)) + int(m.group(2))
    elif tool in ("oha", "oha-h2", "oha-q"):
        # oha's text summary (1.16 prints ms; older versions secs).
        m = re.search(r"Requests/sec:\s*([\d.]+)", out); rps = float(m.group(1))
        m = re.search(r"^\s*50(?:\.0+)?% in ([\d.]+) (secs|ms)", out, re.M); p50 = ms(*m.groups())
        m = re.search(r"^\s*99(?:\.0+)?% in ([\d.]+) (secs|ms)", out, re.M); p99 = ms(*m.groups())
        codes = [(int(c), int(n)) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)]
        req = sum(n for _, n in codes)
        errs = sum(n for c, n in codes if c >= 400)
        if "Error distribution" in out:
            tail = out.split("Error distribution", 1)[1]
            # "aborted due to deadline": requests in flight when -z ran out, not errors
            # (wrk and volley do not count those as errors either).
            errs += sum(int(n) for n, what in re.findall(r"^\s*\[(\d+)\]\s*(.*)$", tail, re.M)
                        if "deadline" not in what)
    elif tool == "reqwest-loop-t1":
        m = re.search(r"requests (\d+) errors (\d+) seconds [\d.]+ rps ([\d.]+)", out)
        req, errs, rps = int(m.group(1)), int(m.group(2)), float(m.group(3))
    else:
        d = json.load(open(base + ".json"))
        t = d["totals"]
        req, rps, errs = t["requests"], t["rps"], t["errors"]
        p50, p99 = t["latency_ms"]["p50"], t["latency_ms"]["p99"]
        dropped = d.get("dropped_iterations", na)
        opened = d.get("connections", {}).get("opened", na)
except Exception as e:  # keep going: a tool that failed gets NA in its row
    print(f"parse error for {base}: {e!r}", file=sys.stderr)
try:
    wall, user, sys_, rss = open(base + ".time").read().split()[-4:]
    cpu = float(user) + float(sys_)
except Exception:
    wall = user = sys_ = rss = na
    cpu = None
cpu_us = f"{cpu * 1e6 / req:.3f}" if cpu is not None and isinstance(req, int) and req > 0 else na
rss_mb = f"{int(rss) / 1024:.1f}" if rss != na else na
srv = srv1 - srv0 if srv0 >= 0 and srv1 >= 0 else None
srv_pct = other_pct = na
if wall != na and float(wall) > 0:
    if srv is not None:
        srv_pct = f"{100 * srv / float(wall):.0f}"
    if srv is not None and cpu is not None:
        # CPU used by everything else on the machine between the two snapshots (the
        # tool's run plus a little), in % of one core.
        other_pct = f"{max(0.0, 100 * (busy1 - busy0 - cpu - srv) / max(t1 - t0, 1e-3)):.0f}"
def f(x, fmt):
    return fmt.format(x) if isinstance(x, (int, float)) else x
try:
    rate = open(base + ".rate").read().strip()  # the open rate asked for (open runs)
except OSError:
    rate = na
print("\t".join(str(x) for x in [
    rnd, tool, rc, req, f(rps, "{:.1f}"), f(p50, "{:.3f}"), f(p99, "{:.3f}"), errs,
    wall, user, sys_, cpu_us, rss_mb, srv_pct, served, other_pct, dropped, opened, rate]))
PY
    if [ "$rc" -ne 0 ]; then
        log "  $tool exited with $rc (see $base.stderr)"
    fi
}

# --- 5. interleaved rounds, then the table --------------------------------------------
printf 'round\ttool\texit\trequests\trps\tp50_ms\tp99_ms\terrors\twall_s\tuser_s\tsys_s\tcpu_us_per_req\tmax_rss_mb\tnginx_cpu_pct\tnginx_served\tother_cpu_pct\tdropped\tconns_opened\trate\n' >"$RAW"
{
    echo "# volley bench/compare.sh $STAMP"
    echo "# mode=$MODE url=$URL conns=$CONNS duration=${DURATION}s runs=$RUNS nproc=$(nproc) kernel=$(uname -r) cpu_limit=${CPU_LIMIT:-none} threads=${THREADS:-default}$([ "$MODE" = open ] && echo " rate=$([ -n "$RATE_FACTOR" ] && echo "${RATE_FACTOR}x the round's closed rps" || echo "$RATE/s") max_vus=$MAX_VUS")"
    echo "# commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null || echo ' (src modified)')"
    echo "# volley=$VOLLEY wrk=$(wrk -v 2>&1 | head -n1 | awk '{print $2}') oha=$([ "$HAVE_OHA" = 1 ] && oha --version 2>/dev/null | head -n1 || echo 'not installed')"
    [ "$MODE" = h2 ] && echo "# h2load=$([ "$HAVE_H2LOAD" = 1 ] && h2load --version 2>/dev/null | head -n1 || echo 'not installed')"
    echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"
log "load: $CONNS connections, ${DURATION}s, $RUNS rounds of: ${TOOLS[*]}"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$RUNS"); do
    for tool in "${TOOLS[@]}"; do
        log "round $round/$RUNS: $tool"
        run_one "$round" "$tool"
        sleep 0.5
    done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"

python3 - "$RAW" "$HAVE_OHA" >"$OUT/table.md" <<'PY'
import csv, statistics, sys
raw, have_oha = sys.argv[1], sys.argv[2] == "1"
rows = list(csv.DictReader(open(raw), delimiter="\t"))
def num(x):
    try: return float(x)
    except (TypeError, ValueError): return None
wrk_rps = {r["round"]: num(r["rps"]) for r in rows if r["tool"] == "wrk"}
order = []
for r in rows:
    if r["tool"] not in order: order.append(r["tool"])
def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None
def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)
print("| tool | rps | p50 ms | p99 ms | CPU µs/req | max RSS MB | rps / wrk | errors | nginx CPU % | other CPU % | counted / served | runs ok |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for tool in order:
    rs = [r for r in rows if r["tool"] == tool]
    ratios = []
    for r in rs:
        w, v = wrk_rps.get(r["round"]), num(r["rps"])
        ratios.append(v / w if v is not None and w else None)
    ok = sum(1 for r in rs if r["exit"] == "0" and num(r["rps"]) is not None)
    errs = med([num(r["errors"]) for r in rs])
    counted = [num(r["requests"]) / num(r["nginx_served"])
               if num(r["requests"]) is not None and num(r["nginx_served"]) else None for r in rs]
    print("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} |".format(
        tool,
        fmt(med([num(r["rps"]) for r in rs]), ",.0f"),
        fmt(med([num(r["p50_ms"]) for r in rs]), ".3f"),
        fmt(med([num(r["p99_ms"]) for r in rs]), ".3f"),
        fmt(med([num(r["cpu_us_per_req"]) for r in rs]), ".2f"),
        fmt(med([num(r["max_rss_mb"]) for r in rs]), ".1f"),
        fmt(med(ratios), ".2f"),
        fmt(errs, ".0f"),
        fmt(med([num(r["nginx_cpu_pct"]) for r in rs]), ".0f"),
        fmt(med([num(r["other_cpu_pct"]) for r in rs]), ".0f"),
        fmt(med(counted), ".4f"),
        ok, len(rs)))
if not have_oha:
    print("| oha | not installed | | | | | | | | | | |")
if not wrk_rps:
    print()
    print("(rps / wrk: n/a without wrk; MODE=h2 compares in the ratio table below.)")

# The same, over quiet runs only: other processes used at most QUIET % of a core.
QUIET = 20
quiet = [r for r in rows if num(r["other_cpu_pct"]) is not None and num(r["other_cpu_pct"]) <= QUIET]
if not quiet:
    print()
    print(f"No quiet runs (other CPU <= {QUIET}% of a core): compare CPU µs/req, not rps.")
elif len(quiet) < len(rows):
    print()
    print(f"Quiet runs only (other CPU <= {QUIET}% of a core): {len(quiet)} of {len(rows)} runs")
    print()
    print("| tool | quiet runs | rps | p50 ms | p99 ms | CPU µs/req | rps / wrk (quiet medians) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    wrk_q = med([num(r["rps"]) for r in quiet if r["tool"] == "wrk"])
    for tool in order:
        rs = [r for r in quiet if r["tool"] == tool]
        rps = med([num(r["rps"]) for r in rs])
        print("| {} | {} | {} | {} | {} | {} | {} |".format(
            tool, len(rs),
            fmt(rps, ",.0f"),
            fmt(med([num(r["p50_ms"]) for r in rs]), ".3f"),
            fmt(med([num(r["p99_ms"]) for r in rs]), ".3f"),
            fmt(med([num(r["cpu_us_per_req"]) for r in rs]), ".2f"),
            fmt(rps / wrk_q if rps is not None and wrk_q else None, ".2f")))
PY

python3 - "$RAW" >>"$OUT/table.md" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def num(x):
    try: return float(x)
    except (TypeError, ValueError): return None
by = {(r["round"], r["tool"]): r for r in rows}
rps, cpu = [], []
for (rnd, tool), r in by.items():
    h = by.get((rnd, "volley-t1"))
    if tool != "volley-console-t1" or h is None:
        continue
    a, b = num(r["rps"]), num(h["rps"])
    if a and b: rps.append(a / b)
    a, b = num(r["cpu_us_per_req"]), num(h["cpu_us_per_req"])
    if a and b: cpu.append(a / b)
# Per-round ratios of volley's tools to wrk and oha: rps, and CPU per request.
refs = [t for t in ("wrk", "oha", "oha-h2", "h2load") if any(k[1] == t for k in by)]
mine = sorted({t for (_, t) in by if t.startswith("volley")})
if refs and mine:
    print()
    print("Ratios in the same round, medians over rounds (rps: higher is better; CPU per request: lower is better):")
    print()
    print("| tool | " + " | ".join(f"rps / {t} | CPU/req / {t}" for t in refs) + " |")
    print("|---|" + "---:|---:|" * len(refs))
    for tool in mine:
        cells = []
        for ref in refs:
            for key in ("rps", "cpu_us_per_req"):
                vals = []
                for (rnd, t), r in by.items():
                    o = by.get((rnd, ref))
                    if t == tool and o is not None and num(r[key]) and num(o[key]):
                        vals.append(num(r[key]) / num(o[key]))
                cells.append(f"{statistics.median(vals):.2f}" if vals else "n/a")
        print(f"| {tool} | " + " | ".join(cells) + " |")
sw_rps, sw_cpu = [], []
for (rnd, tool), r in by.items():
    off = by.get((rnd, "volley-noselfwatch-t1"))
    if tool != "volley-t1" or off is None:
        continue
    a, b = num(r["rps"]), num(off["rps"])
    if a and b: sw_rps.append(a / b)
    a, b = num(r["cpu_us_per_req"]), num(off["cpu_us_per_req"])
    if a and b: sw_cpu.append(a / b)
if sw_rps:
    print()
    print("Self-watch cost (volley-t1 / volley-noselfwatch-t1 in the same round): rps ratio "
          f"median {statistics.median(sw_rps):.4f} (rounds: {', '.join(f'{x:.3f}' for x in sw_rps)}); "
          f"CPU µs/req ratio median {statistics.median(sw_cpu):.4f} "
          f"(rounds: {', '.join(f'{x:.3f}' for x in sw_cpu)})")
# The open model against the closed model and oha -q in the same round.
def ratio(r, o, key):
    a, b = num(r[key]), num(o[key])
    return a / b if a is not None and b else None
def medf(vals, spec=".2f"):
    vals = [v for v in vals if v is not None]
    return format(statistics.median(vals), spec) if vals else "n/a"
opens = sorted({t for (_, t) in by if t.startswith(("volley-open-t", "base-open-t"))})
if opens:
    print()
    print("Open model, per-round ratios (medians over rounds; p99 corrected for coordinated omission):")
    print()
    print("| tool | rps / closed | CPU/req / closed | p99 / closed p99 | rps / oha-q | CPU/req / oha-q | p99 / oha-q p99 | dropped | connections opened | rps / rate | held |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tool in opens:
        closed = tool.replace("volley-open-", "volley-closed-").replace("base-open-", "volley-closed-")
        cells = {k: [] for k in ("rc", "cc", "pc", "ro", "co", "po")}
        drops, conns, of_rate = [], [], []
        held = runs = 0
        for (rnd, t), r in by.items():
            if t != tool:
                continue
            # Held: the rate asked for was made (99% of it: the last arrivals of a run
            # may still be waiting for a VU when it ends) with 0 dropped.
            asked, made = num(r.get("rate")), num(r.get("rps"))
            got = made / asked if asked and made is not None else None
            of_rate.append(got)
            runs += 1
            held += got is not None and got >= 0.99 and num(r.get("dropped")) == 0
            c, o = by.get((rnd, closed)), by.get((rnd, "oha-q"))
            if c:
                cells["rc"].append(ratio(r, c, "rps"))
                cells["cc"].append(ratio(r, c, "cpu_us_per_req"))
                cells["pc"].append(ratio(r, c, "p99_ms"))
            if o:
                cells["ro"].append(ratio(r, o, "rps"))
                cells["co"].append(ratio(r, o, "cpu_us_per_req"))
                cells["po"].append(ratio(r, o, "p99_ms"))
            drops.append(num(r.get("dropped")))
            conns.append(num(r.get("conns_opened")))
        print(f"| {tool} | " + " | ".join(medf(cells[k]) for k in ("rc", "cc", "pc", "ro", "co", "po"))
              + f" | {medf(drops, '.0f')} | {medf(conns, '.0f')} | {medf(of_rate, '.3f')} | {held} of {runs} |")
# VOLLEY_BASE: this build's open model over the base build's, in the same round.
for tool in opens:
    if not tool.startswith("volley-open-t"):
        continue
    base = tool.replace("volley-open-", "base-open-")
    pairs = [(r, by[(rnd, base)]) for (rnd, t), r in by.items() if t == tool and (rnd, base) in by]
    if not pairs:
        continue
    print()
    print(f"{tool} / {base} in the same round (medians over {len(pairs)} rounds): "
          + ", ".join(f"{name} {medf([ratio(a, b, key) for a, b in pairs], '.3f')}"
                      for name, key in (("rps", "rps"), ("CPU/req", "cpu_us_per_req"),
                                        ("p50", "p50_ms"), ("p99", "p99_ms"),
                                        ("connections", "conns_opened")))
          + "; p99 rounds " + ", ".join(medf([ratio(a, b, "p99_ms")], ".2f") for a, b in pairs))
# Thread scaling: each volley family at N threads against 1 thread in the same round.
fams = {}
for (_, t) in by:
    for fam in ("volley-t", "volley-closed-t", "volley-open-t"):
        rest = t[len(fam):]
        if t.startswith(fam) and rest.isdigit():
            fams.setdefault(fam, set()).add(int(rest))
scaling = [(fam, n) for fam, ns in sorted(fams.items()) for n in sorted(ns) if n > 1 and 1 in ns]
if scaling:
    print()
    print("Per-thread efficiency (rps at N threads / (N x rps at 1 thread), and CPU per request at N / at 1, same round):")
    print()
    print("| tool | threads | efficiency | rps / t1 | CPU/req / t1 | rounds |")
    print("|---|---:|---:|---:|---:|---:|")
    for fam, n in scaling:
        eff, rr, cr = [], [], []
        for (rnd, t), r in by.items():
            one = by.get((rnd, f"{fam}1"))
            if t != f"{fam}{n}" or one is None:
                continue
            x = ratio(r, one, "rps")
            rr.append(x)
            eff.append(x / n if x is not None else None)
            cr.append(ratio(r, one, "cpu_us_per_req"))
        print(f"| {fam}{n} | {n} | {medf(eff)} | {medf(rr)} | {medf(cr)} | {len([x for x in rr if x is not None])} |")
if rps:
    print()
    print("Console overhead (volley-console-t1 / volley-t1 in the same round): rps ratio "
          f"median {statistics.median(rps):.3f} (rounds: {', '.join(f'{x:.3f}' for x in rps)}); "
          f"CPU µs/req ratio median {statistics.median(cpu):.3f}")
PY

cat "$OUT/meta.txt"
echo
cat "$OUT/table.md"
echo
if python3 - "$RAW" <<'PY'; then
import csv, os, sys
other = [float(r["other_cpu_pct"]) for r in csv.DictReader(open(sys.argv[1]), delimiter="\t")
         if r["other_cpu_pct"] != "NA"]
sys.exit(0 if max(other, default=0) > 20 else 1)
PY
    echo "warning: other processes used more than 20% of a core during some runs (other_cpu_pct"
    echo "in the raw file): trust the ratios and CPU µs/req more than the absolute rps"
fi
echo "medians over $RUNS rounds; raw per-run numbers: ${RAW#"$REPO"/}"
