# Shared by the bench scripts (sourced, not run): tools, a private nginx, the volley binary.
#
#   need_tools wrk            # apt-get installs nginx, time, python3, procps (+ the arguments)
#   start_nginx               # sets URL, PORT, STATUS_URL, NGINX_PID, NGINX_WORKER, NGINX_DIR
#                             # (NGINX_H2=1: the port speaks cleartext HTTP/2, h2c)
#   find_volley               # sets VOLLEY (VOLLEY_BIN, or cargo build --profile profiling)
#   cpu_limit 25 [CORES]      # sets CPU_WRAP: a command prefix that runs a tool in a cgroup
#                             # limited to 25% of one core, times CORES (cgroup v1 cpu or
#                             # v2 cpu.max)
#
# The nginx runs on 127.0.0.1 on a free port with one worker, access_log off, long
# keep-alive, a 13-byte static body at every path, and stub_status at /nginx_status
# (STATUS_URL: on PORT, or with NGINX_H2=1 on an older nginx, a second HTTP/1.1 port).
# It is stopped on exit; set ON_EXIT to a command to run first (e.g. stop a tool).
# Needs HERE (the bench directory) and REPO set by the caller.

log() { printf '%s\n' "$*" >&2; }

need_tools() {
    local missing=()
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
    [ -x /usr/bin/time ] || missing+=(time)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    command -v pgrep >/dev/null 2>&1 || missing+=(procps)
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing: ${missing[*]}"
        if [ "$(id -u)" -ne 0 ]; then
            log "need root to apt-get install ${missing[*]}"
            exit 1
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
}

NGINX_PID=""
NGINX_DIR=""
ON_EXIT=""
CGROUP_DIR=""
CPU_WRAP=()
bench_cleanup() {
    if [ -n "$ON_EXIT" ]; then
        eval "$ON_EXIT" || true
    fi
    local d
    for d in "${CGROUP_DIRS[@]}"; do
        rmdir "$d" 2>/dev/null || true
    done
    if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
    fi
    if [ -n "$NGINX_DIR" ]; then
        rm -rf "$NGINX_DIR"
    fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# start_nginx [worker_connections]
start_nginx() {
    local conns="${1:-4096}"
    NGINX_DIR="$(mktemp -d -t volley-bench.XXXXXX)"
    chmod 755 "$NGINX_DIR" # the worker runs as nobody when we are root
    PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    mkdir -p "$NGINX_DIR/www" "$NGINX_DIR/logs"
    # HTTP/2 on cleartext (h2c, prior knowledge): nginx 1.25.1+ takes "http2 on" and still
    # answers HTTP/1.1 on the port; older ones take "listen ... http2", HTTP/2 only, so
    # stub_status gets a second, HTTP/1.1 port.
    local listen_opts="" h2_directive="" status_listen=""
    STATUS_URL="http://127.0.0.1:$PORT/nginx_status"
    if [ "${NGINX_H2:-0}" = 1 ]; then
        local version
        version="$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([0-9.]*\).*|\1|p')"
        if [ "$(printf '%s\n1.25.1\n' "$version" | sort -V | head -n1)" = 1.25.1 ]; then
            h2_directive="http2 on;"
        else
            local status_port
            status_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
            listen_opts=" http2"
            status_listen="listen 127.0.0.1:$status_port;"
            STATUS_URL="http://127.0.0.1:$status_port/nginx_status"
        fi
    fi
    printf 'Hello, world!' >"$NGINX_DIR/www/index.html" # 13 bytes
    chmod 644 "$NGINX_DIR/www/index.html"
    cat >"$NGINX_DIR/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile $((conns * 2 + 64));
daemon off;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/logs/error.log warn;
events { worker_connections $conns; multi_accept on; }
http {
    access_log off;
    client_body_temp_path $NGINX_DIR/body;
    proxy_temp_path $NGINX_DIR/proxy;
    fastcgi_temp_path $NGINX_DIR/fastcgi;
    uwsgi_temp_path $NGINX_DIR/uwsgi;
    scgi_temp_path $NGINX_DIR/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$PORT$listen_opts backlog=4096;
        $status_listen
        $h2_directive
        root $NGINX_DIR/www;
        location = /nginx_status { stub_status; }
        location / { try_files /index.html =404; default_type text/plain; }
    }
}
CONF
    "$NGINX" -t -q -p "$NGINX_DIR" -e "$NGINX_DIR/logs/error.log" -c "$NGINX_DIR/nginx.conf"
    # In its own session, so that a Ctrl-C on the terminal does not stop it mid-run.
    setsid "$NGINX" -p "$NGINX_DIR" -e "$NGINX_DIR/logs/error.log" -c "$NGINX_DIR/nginx.conf" &
    NGINX_PID=$!
    URL="http://127.0.0.1:$PORT/"
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    if ! kill -0 "$NGINX_PID" 2>/dev/null; then
        log "nginx did not start:"
        cat "$NGINX_DIR/logs/error.log" >&2
        exit 1
    fi
    # The worker is the child of the master.
    NGINX_WORKER="$(pgrep -P "$NGINX_PID" | head -n1 || true)"
    log "nginx on $URL (master $NGINX_PID, worker ${NGINX_WORKER:-?})"
}

find_volley() {
    if [ -n "${VOLLEY_BIN:-}" ]; then
        VOLLEY="$VOLLEY_BIN"
    else
        # The profiling profile: the release build users get, plus line tables for perf.
        log "building volley (cargo build --profile profiling) ..."
        (cd "$REPO" && cargo build --profile profiling --quiet --bin volley) || {
            log "cargo build failed; set VOLLEY_BIN=path/to/volley to use an existing binary"
            exit 1
        }
        local target_dir
        target_dir="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
        VOLLEY="$target_dir/profiling/volley"
    fi
    [ -x "$VOLLEY" ] || {
        log "no volley binary at $VOLLEY"
        exit 1
    }
    log "volley: $VOLLEY ($("$VOLLEY" --version 2>/dev/null || echo '?'))"
}

# cpu_limit PERCENT [CORES]: every tool runs in one cgroup limited to PERCENT% of one core
# (times CORES, 1 unless given), so that the load tool, not the server, is the limit and
# rps compares the tools' own speed. Sets CPU_WRAP; each call makes its own cgroup (named
# after CORES), so a script can give a 2-thread run 2 x PERCENT and a 1-thread run PERCENT.
CGROUP_DIRS=()
cpu_limit() {
    local pct="$1" cores="${2:-1}" quota procs dir
    quota=$(( pct * 1000 * cores ))
    if [ -w /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
        dir="/sys/fs/cgroup/cpu/volley-bench-$$-x$cores"
        mkdir -p "$dir"
        echo 100000 >"$dir/cpu.cfs_period_us"
        echo "$quota" >"$dir/cpu.cfs_quota_us"
    elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
        dir="/sys/fs/cgroup/volley-bench-$$-x$cores"
        mkdir -p "$dir"
        echo "$quota 100000" >"$dir/cpu.max"
    else
        log "CPU_LIMIT needs a writable cgroup cpu controller (run as root)"
        exit 1
    fi
    CGROUP_DIR="$dir"
    CGROUP_DIRS+=("$dir")
    procs="$dir/cgroup.procs"
    # shellcheck disable=SC2016
    CPU_WRAP=(bash -c 'echo $$ >"$0" && exec "$@"' "$procs")
    log "tools run in $dir: $cores x ${pct}% of one core"
}
