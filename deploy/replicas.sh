#!/usr/bin/env bash
# deploy/replicas.sh N PORT: N replicas of the app behind HAProxy, for a class too big for one server.
#
#   bash deploy/replicas.sh 2 8501        # then open http://<this machine>:8501
#
# Starts N `streamlit run streamlit_app.py` servers on 127.0.0.1, ports PORT+1 ... PORT+N (or from
# REPLICA_BASE_PORT), each with its own trainer processes and the caps of README's table (set
# NN_* variables before the command; each replica gets them), and HAProxy (Debian's `haproxy`
# package) in front of them on PORT, on every interface (BIND=127.0.0.1 for this machine only).
#
# Sticky sessions: a student's first request goes to the next replica in turn, and HAProxy's
# reply sets a cookie (NNREPLICA) naming it; every later request of that browser, the websocket
# included, goes to the same replica, which holds the student's session (Streamlit keeps it in
# the process that holds the websocket). A replica that stops failing its health checks
# (/_stcore/health, every second) is taken out; its students' pages reconnect to another replica
# and start a fresh session there (their runs on the stopped replica are lost).
#
# Ctrl-C (or SIGTERM) stops HAProxy and every replica. Logs: $REPLICA_LOG_DIR (a temporary
# folder by default, printed at the start).
set -euo pipefail

usage() { echo "usage: bash deploy/replicas.sh N PORT   (N replicas behind HAProxy on PORT)" >&2; exit 2; }
[[ $# -eq 2 && "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ && "$1" -ge 1 ]] || usage
n="$1"
port="$2"
base="${REPLICA_BASE_PORT:-$((port + 1))}"
bind="${BIND:-0.0.0.0}"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-.venv/bin/python}"
haproxy="$(command -v haproxy || true)"
[[ -n "$haproxy" ]] || haproxy="/usr/sbin/haproxy"
if [[ ! -x "$haproxy" ]]; then
    echo "replicas.sh: haproxy is missing: apt-get install -y haproxy" >&2
    exit 1
fi
if [[ ! -x "$python" ]]; then
    echo "replicas.sh: $python is missing: create .venv first (see README's Quick start)" >&2
    exit 1
fi

logs="${REPLICA_LOG_DIR:-$(mktemp -d -t nn-replicas-XXXXXX)}"
mkdir -p "$logs"
pids=()

descendants() {     # every process below pid $1 (a replica's trainer processes, its forkserver, ...)
    local kid
    for kid in $(pgrep -P "$1" 2>/dev/null || true); do
        echo "$kid"
        descendants "$kid"
    done
}

stop_all() {
    trap - INT TERM EXIT
    echo "replicas.sh: stopping HAProxy and ${#pids[@]} processes" >&2
    local all=() pid left
    for pid in "${pids[@]}"; do all+=("$pid" $(descendants "$pid")); done
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    # A replica stops its trainer processes as it exits; give them 10 s, then kill what is left.
    for _ in $(seq 1 50); do
        left=0
        for pid in "${all[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
        [[ "$left" -eq 0 ]] && return
        sleep 0.2
    done
    for pid in "${all[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

servers=""
for i in $(seq 1 "$n"); do
    p=$((base + i - 1))
    "$python" -m streamlit run streamlit_app.py --server.headless true --server.address 127.0.0.1 \
        --server.port "$p" --browser.gatherUsageStats false --server.fileWatcherType none \
        >"$logs/replica$i.log" 2>&1 &
    pids+=("$!")
    echo "replicas.sh: replica r$i: pid $! on 127.0.0.1:$p (log $logs/replica$i.log)"
    servers+="    server r$i 127.0.0.1:$p check cookie r$i"$'\n'
done

cat >"$logs/haproxy.cfg" <<CFG
global
    maxconn 4096

defaults
    mode http
    option redispatch           # a stopped replica's students go to another one
    retries 2
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout tunnel 2h           # the websockets: a lesson long
    timeout http-request 10s

frontend class
    bind ${bind}:${port}
    default_backend replicas

backend replicas
    balance roundrobin
    cookie NNREPLICA insert indirect nocache httponly
    option httpchk GET /_stcore/health
    http-check expect string ok
    default-server inter 1s fall 2 rise 1
${servers}
CFG

# Wait for every replica's health check before letting anyone in (bounded: 120 s).
for i in $(seq 1 "$n"); do
    p=$((base + i - 1))
    for _ in $(seq 1 600); do
        if "$python" -c "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:$p/_stcore/health', timeout=2).read().strip() != b'ok')" 2>/dev/null; then
            break
        fi
        if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
            echo "replicas.sh: replica r$i exited; its log:" >&2
            tail -n 30 "$logs/replica$i.log" >&2
            exit 1
        fi
        sleep 0.2
    done
done

"$haproxy" -f "$logs/haproxy.cfg" -db >"$logs/haproxy.log" 2>&1 &
pids+=("$!")
echo "replicas.sh: HAProxy pid $! on ${bind}:${port} in front of $n replicas; Ctrl-C stops them all"
echo "replicas.sh: ready: http://127.0.0.1:${port}"

# Runs until Ctrl-C, or until HAProxy stops. A replica that stops leaves the others serving.
wait "${pids[-1]}"
