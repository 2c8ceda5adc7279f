#!/usr/bin/env bash
# WebSocket echo throughput: volley's sessions against a local echo server
# (examples/ws_echo.rs, one thread), messages per second and CPU per message.
#
#   bash bench/ws.sh                         # 20 VUs, 5 s, 3 runs, 200 echoes a session
#   VUS=50 DURATION=10 RUNS=5 MSGS=400 bash bench/ws.sh
#   VOLLEY_BIN=/path/to/volley WS_ECHO_BIN=/path/to/ws_echo bash bench/ws.sh
#   ROUNDS=echo RATE=2000 bash bench/ws.sh   # only the echo-at-a-rate round
#
# Each VU opens a session (ws://127.0.0.1:PORT/), then MSGS times sends a text message
# and waits for its echo (`send` + `expect contains`, so one message in flight per VU),
# then closes, and starts again until DURATION. volley runs with --threads 1. Per run:
# echoes (messages received) per second of run time, the expect latency (send to echo)
# p50 and p99, volley's CPU (user+sys from /usr/bin/time) per echo, and the echo
# server's CPU in % of one core (from /proc). Raw numbers go to bench/out/<stamp>-ws/.
#
# The `echo` round (ROUNDS="pingpong echo" runs both, the default) has one session per VU
# run an `echo` step: RATE messages a second (default 1000) for DURATION, each matched
# to its echo, many in flight. Per run: messages sent (exactly VUS x RATE x DURATION),
# echoes per second, echo latency (from when each message was due) p50 and p99,
# timeouts and lost, volley's CPU per message sent, the server's CPU.
#
# Traffic goes to 127.0.0.1 only. See docs/performance.md.

set -euo pipefail

VUS="${VUS:-20}"
DURATION="${DURATION:-5}"
DURATION="${DURATION%s}"
RUNS="${RUNS:-3}"
MSGS="${MSGS:-200}"
RATE="${RATE:-1000}"
ROUNDS="${ROUNDS:-pingpong echo}"
case "$VUS$DURATION$RUNS$MSGS$RATE" in
*[!0-9]*) echo "VUS, DURATION (seconds), RUNS, MSGS and RATE must be whole numbers" >&2; exit 2 ;;
esac
if [ "$RATE" -lt 1 ] || [ "$RATE" -gt 10000 ]; then
    echo "RATE is 1 to 10000 messages a second per VU" >&2
    exit 2
fi
if [ "$MSGS" -lt 1 ] || [ "$MSGS" -gt 499 ]; then
    echo "MSGS is 1 to 499 (a script has at most 1,000 steps)" >&2
    exit 2
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
OUT="$HERE/out/$(date -u +%Y%m%dT%H%M%SZ)-ws"
mkdir -p "$OUT"

log() { printf '%s\n' "$*" >&2; }

if [ -n "${VOLLEY_BIN:-}" ]; then
    VOLLEY="$VOLLEY_BIN"
else
    log "building volley and examples/ws_echo (cargo build --profile profiling) ..."
    (cd "$REPO" && cargo build --profile profiling --quiet --bin volley --example ws_echo)
    VOLLEY="$REPO/target/profiling/volley"
fi
ECHO_BIN="${WS_ECHO_BIN:-$REPO/target/profiling/examples/ws_echo}"
if [ ! -x "$ECHO_BIN" ]; then
    (cd "$REPO" && cargo build --profile profiling --quiet --example ws_echo)
fi
[ -x "$VOLLEY" ] && [ -x "$ECHO_BIN" ] || { log "no volley or ws_echo binary"; exit 1; }

"$ECHO_BIN" 0 >"$OUT/echo.stdout" 2>"$OUT/echo.stderr" &
ECHO_PID=$!
trap 'kill "$ECHO_PID" 2>/dev/null || true' EXIT
PORT=""
for _ in $(seq 50); do
    PORT="$(sed -n 's/^port //p' "$OUT/echo.stdout")"
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { log "ws_echo did not start"; exit 1; }
log "echo server on ws://127.0.0.1:$PORT/ (pid $ECHO_PID)"

{
    printf 'name = "ws echo bench"\nbase_url = "http://127.0.0.1:%s"\ntimeout = "10s"\n\n' "$PORT"
    printf '[load]\nvus = %s\nduration = "%ss"\n\n' "$VUS" "$DURATION"
    printf '[[request]]\nname = "echo"\npath = "/"\nprotocol = "websocket"\nws = """\n'
    for i in $(seq "$MSGS"); do
        printf 'send ping %s\nexpect contains ping %s within 5s\n' "$i" "$i"
    done
    printf 'close\n"""\n'
} >"$OUT/echo.toml"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS="$(getconf CLK_TCK)"
if [[ " $ROUNDS " == *" pingpong "* ]]; then
log "round pingpong: $VUS VUs, send + expect, $MSGS a session"
printf 'run\techoes\techoes_per_s\texpect_p50_ms\texpect_p99_ms\terrors\tcpu_us_per_echo\tserver_cpu_pct\tload1\n' >"$OUT/raw.tsv"
for run in $(seq "$RUNS"); do
    base="$OUT/run$run"
    before="$(cpu_ticks "$ECHO_PID")"
    /usr/bin/time -f '%e %U %S %M' -o "$base.time" \
        "$VOLLEY" run "$OUT/echo.toml" --headless --threads 1 --out "json=$base.json" \
        >"$base.stdout" 2>"$base.stderr" </dev/null || true
    after="$(cpu_ticks "$ECHO_PID")"
    load1="$(cut -d' ' -f1 /proc/loadavg)"
    python3 - "$base" "$run" "$before" "$after" "$TICKS" "$load1" >>"$OUT/raw.tsv" <<'PY'
import json, sys
base, run, before, after, ticks, load1 = sys.argv[1:]
d = json.load(open(base + ".json"))
ws = d["endpoints"][0]["ws"]
echoes = ws["messages_received"]
secs = d["run_time_s"]
wall, user, sys_, _ = open(base + ".time").read().split()[-4:]
cpu = float(user) + float(sys_)
server = (int(after) - int(before)) / int(ticks)
e = ws.get("expect_ms", {})
print("\t".join(str(x) for x in [
    run, echoes, f"{echoes / secs:.0f}", e.get("p50", "NA"), e.get("p99", "NA"),
    d["totals"]["errors"], f"{cpu * 1e6 / max(echoes, 1):.2f}",
    f"{100 * server / float(wall):.0f}", load1]))
PY
done
column -t -s $'\t' "$OUT/raw.tsv"
python3 - "$OUT/raw.tsv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = lambda k: statistics.median(float(r[k]) for r in rows)
print(f"median of {len(rows)} runs: {med('echoes_per_s'):.0f} echoes/s, "
      f"{med('cpu_us_per_echo'):.2f} µs volley CPU per echo, "
      f"expect p50 {med('expect_p50_ms'):.3f} ms, server {med('server_cpu_pct'):.0f}% of a core")
PY
log "raw: $OUT/raw.tsv"
fi

if [[ " $ROUNDS " == *" echo "* ]]; then
log "round echo: $VUS VUs x $RATE/s for ${DURATION}s (echo step)"
{
    printf 'name = "ws echo rate bench"\nbase_url = "http://127.0.0.1:%s"\ntimeout = "10s"\n\n' "$PORT"
    printf '[load]\nvus = %s\niterations = %s\n\n' "$VUS" "$VUS"
    printf '[[request]]\nname = "echo"\npath = "/"\nprotocol = "websocket"\n'
    printf 'ws = """\necho ping {{seq}} from {{vu}} at %s/s for %ss within 5s\nclose\n"""\n' "$RATE" "$DURATION"
} >"$OUT/rate.toml"
printf 'run\tsent\techoes_per_s\techo_p50_ms\techo_p99_ms\ttimeouts\tlost\tcpu_us_per_msg\tserver_cpu_pct\tload1\n' >"$OUT/rate.tsv"
for run in $(seq "$RUNS"); do
    base="$OUT/rate$run"
    before="$(cpu_ticks "$ECHO_PID")"
    /usr/bin/time -f '%e %U %S %M' -o "$base.time" \
        "$VOLLEY" run "$OUT/rate.toml" --headless --threads 1 --out "json=$base.json" \
        >"$base.stdout" 2>"$base.stderr" </dev/null || true
    after="$(cpu_ticks "$ECHO_PID")"
    load1="$(cut -d' ' -f1 /proc/loadavg)"
    python3 - "$base" "$run" "$before" "$after" "$TICKS" "$load1" "$((VUS * RATE * DURATION))" >>"$OUT/rate.tsv" <<'PY'
import json, sys
base, run, before, after, ticks, load1, want = sys.argv[1:]
d = json.load(open(base + ".json"))
ws = d["endpoints"][0]["ws"]
echo = ws.get("echo", {})
sent = echo.get("sent", 0)
if sent != int(want):
    print(f"run {run}: sent {sent}, not {want}", file=sys.stderr)
secs = d["run_time_s"]
wall, user, sys_, _ = open(base + ".time").read().split()[-4:]
cpu = float(user) + float(sys_)
server = (int(after) - int(before)) / int(ticks)
e = ws.get("echo_ms", {})
print("\t".join(str(x) for x in [
    run, sent, f"{echo.get('echoed', 0) / secs:.0f}", e.get("p50", "NA"), e.get("p99", "NA"),
    echo.get("timeouts", "NA"), echo.get("lost", "NA"), f"{cpu * 1e6 / max(sent, 1):.2f}",
    f"{100 * server / float(wall):.0f}", load1]))
PY
done
column -t -s $'\t' "$OUT/rate.tsv"
python3 - "$OUT/rate.tsv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = lambda k: statistics.median(float(r[k]) for r in rows)
print(f"echo round, median of {len(rows)} runs: {med('echoes_per_s'):.0f} echoes/s, "
      f"{med('cpu_us_per_msg'):.2f} µs volley CPU per message, "
      f"echo p50 {med('echo_p50_ms'):.3f} ms p99 {med('echo_p99_ms'):.3f} ms, "
      f"server {med('server_cpu_pct'):.0f}% of a core")
PY
log "raw: $OUT/rate.tsv"
fi
