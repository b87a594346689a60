#!/usr/bin/env bash
# bench/peers/https.sh: corio's HTTPS (examples/http_hello --tls-cert/--tls-key, on its
# io_uring and epoll backends) side by side with nginx (Debian's package, one worker) and
# asio_ssl_http (Asio + asio::ssl, bench/peers/asio_ssl_http.cpp).
#
# Installs the Debian packages it needs (as root), builds http_hello and asio_ssl_http in
# the release preset with -DCORIO_BUILD_PEERS=ON, makes throwaway certificates with
# tests/tls/make_certs.sh, then, ROUNDS times, for every measurement and every server:
# starts a fresh server pinned to SERVER_CPU, warms it up for WARMUP s with the same client
# (pinned to LOADGEN_CPU), and measures it:
#   - keep-alive GETs: wrk -t1 -cN -dDURATION https://127.0.0.1:PORT/ for N in CONNS;
#     req/s, and the server's CPU µs per request (utime+stime from /proc/PID/stat);
#   - handshakes: openssl s_time -new (full, TLS 1.3) and -reuse -tls1_2 (resumed), each
#     for HS_TIME s, and wrk -H 'Connection: close' (a full handshake per request, 50 at a
#     time); connections/s and the server's CPU µs per handshake;
#   - then once (SYSCALLS=1): syscalls per request over a wrk -c50 run, counted by
#     perf stat (raw_syscalls:sys_enter and the I/O calls' tracepoints), and by strace -f -c.
# Writes OUT (docs/benchmarks-https.md); whatever follows its "<!-- notes -->" line is
# kept, so notes written by hand survive a rerun.
#
#   bench/peers/https.sh            # 3 rounds, 10 s per point: about 15 minutes
#   QUICK=1 bench/peers/https.sh    # smoke test: 1 round, 1 s per point, about 2 minutes
#
# Environment: ROUNDS (3), DURATION (wrk s, 10), HS_TIME (s_time s, 10), WARMUP (s, 1),
# CONNS ("50 500"), CLOSE_CONNS (wrk connections of the Connection: close run, 50),
# SYSCALLS (1), SYSCALL_TIME (s, 5), SERVER_CPU (0), LOADGEN_CPU (1), JOBS (build
# parallelism, 2), OUT (docs/benchmarks-https.md), KEEP_LOGS (a directory to copy the raw
# client and server output to). Exits 1 if any run failed (the doc is still written, with
# the failure marked).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  ROUNDS=${ROUNDS:-1}
  DURATION=${DURATION:-1}
  HS_TIME=${HS_TIME:-1}
  SYSCALL_TIME=${SYSCALL_TIME:-1}
fi
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
HS_TIME=${HS_TIME:-10}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-"50 500"}
CLOSE_CONNS=${CLOSE_CONNS:-50}
SYSCALLS=${SYSCALLS:-1}
SYSCALL_TIME=${SYSCALL_TIME:-5}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
JOBS=${JOBS:-2}
OUT=${OUT:-$root/docs/benchmarks-https.md}
KEEP_LOGS=${KEEP_LOGS:-}
build=$root/build/release
http_hello=$build/examples/http_hello
asio_bin=$build/bench/peers/asio_ssl_http
# Read before anything here adds load: the doc reports it.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

say() { echo "https: $*" >&2; }

# --- packages ------------------------------------------------------------------------
# corio's build (its tests and benchmarks configure too), the peers, the clients.
packages=(
  cmake ninja-build gcc g++ pkg-config util-linux python3 curl
  libgtest-dev libgmock-dev libbenchmark-dev liburing-dev libssl-dev openssl
  libasio-dev nginx wrk strace linux-perf
)
# shellcheck source=bench/peers/packages.sh
source "$root/bench/peers/packages.sh"
install_missing "${packages[@]}"

# --- build ---------------------------------------------------------------------------
say "building http_hello and asio_ssl_http (release preset, -j$JOBS)"
cmake --preset release -DCORIO_BUILD_PEERS=ON >/dev/null
cmake --build --preset release -j "$JOBS" --target http_hello asio_ssl_http

tmp=$(mktemp -d)
# nginx's workers run as nobody when the master is root; they need to reach the config
# directory (the certificates are read by the master before it forks).
chmod 755 "$tmp"
main_pid=""  # the server being measured; stopped too if this script dies early
trap '[ -z "$main_pid" ] || kill -TERM "$main_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
bash tests/tls/make_certs.sh "$tmp/certs" >/dev/null
cert=$tmp/certs/server.pem
key=$tmp/certs/server.key

# 500 connections are 500 fds in wrk and in the server.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# --- the servers -----------------------------------------------------------------------
ngx=$tmp/nginx
mkdir -p "$ngx"
# nginx_conf PORT: one worker, HTTPS on PORT, everything it writes under $ngx (so it runs
# as root without touching /etc or /var). Defaults otherwise, as a packaged nginx is run.
nginx_conf() {
  cat >"$ngx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
worker_rlimit_nofile 65536;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $ngx/client_body;
  proxy_temp_path $ngx/proxy;
  fastcgi_temp_path $ngx/fastcgi;
  uwsgi_temp_path $ngx/uwsgi;
  scgi_temp_path $ngx/scgi;
  keepalive_requests 1000000;
  default_type text/plain;
  server {
    listen 127.0.0.1:$1 ssl;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { return 200 "Hello, world!"; }
  }
}
EOF
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME LOG: starts NAME pinned to SERVER_CPU; sets main_pid, pids (every
# process whose CPU time is the server's: nginx's master and worker) and port. Returns 1
# (and says why) if it does not come up.
start_server() {
  local name=$1 log=$2
  port=""
  pids=""
  : >"$log.out"
  case $name in
    corio_*)
      taskset -c "$SERVER_CPU" "$http_hello" --backend "${name#corio_}" \
        --tls-cert "$cert" --tls-key "$key" --port 0 >"$log.out" 2>"$log.err" &
      ;;
    asio_ssl_http)
      taskset -c "$SERVER_CPU" "$asio_bin" --tls-cert "$cert" --tls-key "$key" --port 0 \
        >"$log.out" 2>"$log.err" &
      ;;
    nginx)
      port=$(free_port)
      nginx_conf "$port"
      rm -f "$ngx/error.log"
      taskset -c "$SERVER_CPU" nginx -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" \
        >"$log.out" 2>"$log.err" &
      ;;
  esac
  main_pid=$!  # taskset execs the server: this is its pid
  local workers=""
  for _ in $(seq 100); do
    if [ "$name" = nginx ]; then
      workers=$(pgrep -P "$main_pid" | tr '\n' ' ' || true)
      if [ -n "$workers" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        pids="$main_pid $workers"
        return 0
      fi
    else
      port=$(awk '/listening on/ { n = split($NF, a, ":"); print a[n]; exit }' "$log.out")
      if [ -n "$port" ]; then
        pids=$main_pid
        return 0
      fi
    fi
    kill -0 "$main_pid" 2>/dev/null || break
    sleep 0.1
  done
  say "$name did not start: $(head -c 300 "$log.err" | tr '\n' ' ')"
  return 1
}

# stop_server: SIGTERM, then SIGKILL after 10 s; sets stop_status to "ok" or what went
# wrong. (Not printed for $(...): a subshell could not wait for the server.)
stop_server() {
  local rc=0 status=ok
  kill -TERM "$main_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$main_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$main_pid" 2>/dev/null; then
    kill -KILL "$main_pid" 2>/dev/null || true
    status="server ignored SIGTERM"
  fi
  wait "$main_pid" || rc=$?
  main_pid=""
  if [ "$status" = ok ] && [ "$rc" -ne 0 ]; then status="server exited $rc"; fi
  stop_status=$status
}

# ticks PID...: utime + stime of these processes (all their threads), in clock ticks.
# The fields are counted after the ")" that ends the command name, which may hold spaces.
ticks() {
  local t=0 p
  for p in "$@"; do
    t=$((t + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
  done
  echo "$t"
}
hz=$(getconf CLK_TCK)

# client LOG CMD...: runs CMD pinned to LOADGEN_CPU, its output in LOG and its real, user
# and sys seconds in LOG.time. Returns CMD's status.
client() {
  local log=$1
  shift
  local TIMEFORMAT='%3R %3U %3S' rc=0
  { time taskset -c "$LOADGEN_CPU" "$@" >"$log" 2>&1; } 2>"$log.time" || rc=$?
  return "$rc"
}

# The servers, in the order of the first round (later rounds rotate it, so no server is
# always the one run right after a build or right before the next test).
servers=()
probe_tsv=$tmp/probe.tsv
: >"$probe_tsv"
for name in corio_io_uring corio_epoll nginx asio_ssl_http; do
  if [ "$name" = asio_ssl_http ] && [ ! -x "$asio_bin" ]; then
    say "skipping asio_ssl_http: not built (libasio-dev or libssl-dev missing?)"
    continue
  fi
  log=$tmp/probe.$name
  if ! start_server "$name" "$log"; then
    [ -z "$main_pid" ] || stop_server
    say "skipping $name"
    continue
  fi
  # The right bytes over verified TLS, and what each server negotiates by default.
  body=$(curl -s --max-time 5 --cacert "$tmp/certs/ca.pem" "https://127.0.0.1:$port/" || true)
  brief=$(openssl s_client -connect "127.0.0.1:$port" -brief </dev/null 2>&1 || true)
  stop_server
  if [ "$body" != "Hello, world!" ]; then
    say "skipping $name: GET / answered '$body'"
    continue
  fi
  proto=$(sed -n 's/^Protocol version: *//p' <<<"$brief")
  suite=$(sed -n 's/^Ciphersuite: *//p' <<<"$brief")
  kex=$(sed -n 's/^Server Temp Key: *//p' <<<"$brief")
  printf '%s\t%s\t%s\t%s\n' "$name" "$proto" "$suite" "$kex" >>"$probe_tsv"
  servers+=("$name")
done
[ ${#servers[@]} -gt 0 ] || { say "no server started"; exit 1; }

results=$tmp/results.tsv
: >"$results"
failures=0

# to_us VALUE: wrk's latency (1.23ms, 456.00us, 1.02s) in µs.
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; else if (u == "m") n *= 60000000
    printf "%.0f", n }'
}

# measure ROUND TEST NAME: one fresh server, a warm-up, one measured client run, one row
# of results: round test server rate count cpu_us srv_pct client_pct errors p50_us p99_us
# printed_rate resumed status.
measure() {
  local round=$1 test=$2 name=$3
  local log=$tmp/r$round.$test.$name
  local -a cmd warm
  local url
  if ! start_server "$name" "$log.server"; then
    failures=$((failures + 1))
    [ -z "$main_pid" ] || stop_server
    printf '%s\t%s\t%s\t?\t?\t?\t?\t?\t?\t?\t?\t?\t?\t%s\n' "$round" "$test" "$name" \
      "server did not start" >>"$results"
    return
  fi
  url=https://127.0.0.1:$port/
  case $test in
    get:*)
      cmd=(wrk --latency -t1 -c"${test#get:}" -d"${DURATION}s" "$url")
      warm=(wrk -t1 -c"${test#get:}" -d"${WARMUP}s" "$url")
      ;;
    close:*)
      cmd=(wrk -t1 -c"${test#close:}" -d"${DURATION}s" -H 'Connection: close' "$url")
      warm=(wrk -t1 -c"${test#close:}" -d"${WARMUP}s" -H 'Connection: close' "$url")
      ;;
    s_time_new)
      cmd=(openssl s_time -connect "127.0.0.1:$port" -new -time "$HS_TIME")
      warm=(openssl s_time -connect "127.0.0.1:$port" -new -time "$WARMUP")
      ;;
    s_time_reuse_tls12)
      cmd=(openssl s_time -connect "127.0.0.1:$port" -reuse -tls1_2 -time "$HS_TIME")
      warm=(openssl s_time -connect "127.0.0.1:$port" -reuse -tls1_2 -time "$WARMUP")
      ;;
  esac
  local status=ok rc=0 t0 t1
  client "$log.warm" "${warm[@]}" || true
  # shellcheck disable=SC2086  # pids is a list
  t0=$(ticks $pids)
  client "$log.client" "${cmd[@]}" || rc=$?
  # shellcheck disable=SC2086
  t1=$(ticks $pids)
  stop_server
  [ "$rc" -eq 0 ] || status="client exited $rc"
  [ "$stop_status" = ok ] || status=$stop_status

  local out=$log.client count='?' rate='?' errors=0 p50='?' p99='?' printed='?' resumed='?'
  local real user sys
  read -r real user sys <"$out.time"
  case $test in
    get:* | close:*)
      count=$(awk '/requests in/ { print $1; exit }' "$out")
      rate=$(awk '/^Requests\/sec:/ { print $2; exit }' "$out")
      # Socket errors: connect 0, read 0, write 0, timeout 0; Non-2xx or 3xx responses: N
      errors=$(awk '/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
                    /Non-2xx or 3xx/ { e += $NF } END { print e + 0 }' "$out")
      if [ "${test%%:*}" = get ]; then
        p50=$(awk '$1 == "50%" { print $2; exit }' "$out")
        p99=$(awk '$1 == "99%" { print $2; exit }' "$out")
        if [ -n "$p50" ]; then p50=$(to_us "$p50"); else p50='?'; fi
        if [ -n "$p99" ]; then p99=$(to_us "$p99"); else p99='?'; fi
      fi
      ;;
    s_time_*)
      # "1158 connections in 1.11s; 1043.24 connections/user sec, bytes read 0"
      count=$(awk '/connections in .*s;/ { print $1; exit }' "$out")
      printed=$(awk '/connections\/user sec/ { for (i = 1; i < NF; ++i)
                       if ($(i + 1) == "connections/user") { print $i; exit } }' "$out")
      # One character per connection: r when it resumed a session.
      resumed=$( (grep -E '^[*rt3]+$' "$out" || true) | tr -cd r | wc -c)
      if [ -n "$count" ]; then rate=$(awk -v n="$count" -v t="$real" 'BEGIN { printf "%.1f", n / t }'); fi
      errors=$(grep -c -i 'unable to\|error' "$out" || true)
      ;;
  esac
  [ -n "$count" ] || count='?'
  [ -n "$rate" ] || rate='?'
  local cpu='?' spct lpct
  if [ "$count" != '?' ] && [ "$count" -gt 0 ]; then
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$count" 'BEGIN { printf "%.2f", d / hz * 1e6 / n }')
  elif [ "$status" = ok ]; then
    status="no requests completed"
  fi
  spct=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v t="$real" 'BEGIN { printf "%.0f", d / hz / t * 100 }')
  lpct=$(awk -v u="$user" -v s="$sys" -v t="$real" 'BEGIN { printf "%.0f", (u + s) / t * 100 }')
  if [ "$status" != ok ]; then
    failures=$((failures + 1))
    say "$name $test: $status; server stderr: $(head -c 300 "$log.server.err" | tr '\n' ' ')"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$test" "$name" \
    "$rate" "$count" "$cpu" "$spct" "$lpct" "$errors" "$p50" "$p99" "$printed" "$resumed" \
    "$status" >>"$results"
  say "$(printf 'round %s %-18s %-15s rate=%-9s n=%-8s cpu/op=%-7s cpu%%=%s/%s err=%s %s' \
    "$round" "$test" "$name" "$rate" "$count" "$cpu" "$spct" "$lpct" "$errors" "$status")"
}

tests=()
for c in $CONNS; do tests+=("get:$c"); done
tests+=(s_time_new s_time_reuse_tls12 "close:$CLOSE_CONNS")
say "${#servers[@]} servers (${servers[*]}), $ROUNDS round(s); wrk ${DURATION} s, s_time ${HS_TIME} s, warm-up ${WARMUP} s"
for round in $(seq "$ROUNDS"); do
  # Test outermost within a round: servers compared in one table run minutes apart at most.
  for test in "${tests[@]}"; do
    n=${#servers[@]}
    for i in $(seq 0 $((n - 1))); do
      measure "$round" "$test" "${servers[$(((i + round - 1) % n))]}"
    done
  done
done

# --- syscalls per request ------------------------------------------------------------------
# perf stat counts syscall entries (all of them, and the I/O and wait calls one by one)
# with little overhead. strace -c names every call but slows the server several times
# over, which changes how much each wakeup finds to do; its counts are shown as they are,
# beside perf's, not mixed with them.
syscalls=$tmp/syscalls.tsv
: >"$syscalls"
events=raw_syscalls:sys_enter
for sc in read write readv writev recvfrom sendto recvmsg sendmsg epoll_wait epoll_pwait \
  epoll_pwait2 io_uring_enter; do
  for tracefs in /sys/kernel/tracing /sys/kernel/debug/tracing; do
    if [ -d "$tracefs/events/syscalls/sys_enter_$sc" ]; then
      events+=",syscalls:sys_enter_$sc"
      break
    fi
  done
done
if [ "$SYSCALLS" = 1 ]; then
  for name in "${servers[@]}"; do
    log=$tmp/sys.$name
    if ! start_server "$name" "$log.server"; then
      failures=$((failures + 1))
      [ -z "$main_pid" ] || stop_server
      continue
    fi
    url=https://127.0.0.1:$port/
    client "$log.warm" wrk -t1 -c50 -d"${WARMUP}s" "$url" || true
    perf stat -x, -e "$events" -o "$log.perf" -p "$(tr ' ' ',' <<<"${pids% }")" &
    tracer=$!
    sleep 0.5
    client "$log.perfwrk" wrk -t1 -c50 -d"${SYSCALL_TIME}s" "$url" || true
    kill -INT "$tracer"
    wait "$tracer" || true
    strace_args=()
    for p in $pids; do strace_args+=(-p "$p"); done
    strace -f -c -o "$log.strace" "${strace_args[@]}" 2>/dev/null &
    tracer=$!
    sleep 0.5
    client "$log.stracewrk" wrk -t1 -c50 -d"${SYSCALL_TIME}s" "$url" || true
    kill -INT "$tracer"
    wait "$tracer" || true
    stop_server
    # perf -x, rows: count,unit,event,...
    perf_calls=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print $1; exit }' "$log.perf")
    perf_mix=$(awk -F, '$3 ~ /^syscalls:sys_enter_/ && $1 + 0 > 0 {
        sub(/^syscalls:sys_enter_/, "", $3); print $1, $3 }' "$log.perf" |
      sort -rn | awk '{ printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1 }')
    perf_reqs=$(awk '/requests in/ { print $1; exit }' "$log.perfwrk")
    strace_reqs=$(awk '/requests in/ { print $1; exit }' "$log.stracewrk")
    # strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall. The total row
    # may lack usecs/call, so the total is summed here.
    strace_mix=$(awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { print $4, $NF }' "$log.strace" |
      sort -rn | head -4 | awk '{ printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1 }')
    strace_total=$(awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { n += $4 } END { print n + 0 }' \
      "$log.strace")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${perf_calls:-?}" "${perf_reqs:-?}" \
      "${perf_mix:-?}" "${strace_total:-?}" "${strace_reqs:-?}" "${strace_mix:-?}" >>"$syscalls"
    say "syscalls $name: perf ${perf_calls:-?} ($perf_mix) for ${perf_reqs:-?} requests;" \
      "strace $strace_mix for ${strace_reqs:-?}"
  done
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

if [ -n "$KEEP_LOGS" ]; then
  mkdir -p "$KEEP_LOGS"
  cp -r "$tmp"/. "$KEEP_LOGS"/
  rm -rf "$KEEP_LOGS/certs"
fi

# --- docs/benchmarks-https.md ------------------------------------------------------------
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
nginx_version=$(nginx -v 2>&1 | sed 's/^nginx version: //')
openssl_version=$(openssl version)
wrk_version=$(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }' || true)
compiler=$(gcc --version | sed -n 1p)
asio_version=$(dpkg-query -W -f='${Version}' libasio-dev 2>/dev/null || echo '?')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain 2>/dev/null | grep -v '^??' | head -1 || true)
[ -z "$dirty" ] || commit="$commit (with uncommitted changes)"
invocation="QUICK=$QUICK ROUNDS=$ROUNDS DURATION=$DURATION HS_TIME=$HS_TIME WARMUP=$WARMUP"
invocation+=" CONNS='$CONNS' CLOSE_CONNS=$CLOSE_CONNS SYSCALLS=$SYSCALLS SYSCALL_TIME=$SYSCALL_TIME"
invocation+=" SERVER_CPU=$SERVER_CPU LOADGEN_CPU=$LOADGEN_CPU bench/peers/https.sh"
mkdir -p "$(dirname "$OUT")"
notes=""
if [ -f "$OUT" ] && grep -q '^<!-- notes -->' "$OUT"; then
  notes=$(sed -n '/^<!-- notes -->/,$p' "$OUT")
fi

export RESULTS=$results SYSCALLS_TSV=$syscalls PROBE=$probe_tsv QUICK ROUNDS DURATION HS_TIME \
  WARMUP CONNS CLOSE_CONNS SYSCALL_TIME SERVER_CPU LOADGEN_CPU load_start load_end \
  cpu_model nginx_version openssl_version wrk_version compiler asio_version commit \
  invocation NOTES="$notes"
python3 - >"$OUT" <<'PY'
import csv
import os
import statistics
from collections import defaultdict

E = os.environ
rows = list(csv.reader(open(E["RESULTS"]), delimiter="\t"))
cols = ["round", "test", "server", "rate", "count", "cpu", "spct", "lpct", "errors", "p50",
        "p99", "printed", "resumed", "status"]
runs = defaultdict(list)  # (test, server) -> rows
order = []
for r in rows:
    d = dict(zip(cols, r))
    runs[d["test"], d["server"]].append(d)
    if d["server"] not in order:
        order.append(d["server"])
order.sort(key=lambda s: ["corio_io_uring", "corio_epoll", "nginx", "asio_ssl_http"].index(s))
backend = {"corio_io_uring": ("corio", "io_uring"), "corio_epoll": ("corio", "epoll"),
           "nginx": ("nginx", "epoll, 1 worker"), "asio_ssl_http": ("Asio", "epoll")}
nrounds = int(E["ROUNDS"])


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


def med(test, server, key):
    vals = [num(d[key]) for d in runs[test, server] if d["status"] == "ok"]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def per_round_ratios(test, server, key):
    """server/nginx for each round in which both ran fine: they ran minutes apart."""
    base = {d["round"]: num(d[key]) for d in runs[test, "nginx"] if d["status"] == "ok"}
    out = []
    for d in runs[test, server]:
        v, b = num(d[key]), base.get(d["round"])
        if d["status"] == "ok" and v is not None and b:
            out.append(v / b)
    return out


def ratio_cell(test, server, key):
    v, b = med(test, server, key), med(test, "nginx", key)
    if v is None or not b:
        return "n/a", None
    r = v / b
    rr = per_round_ratios(test, server, key)
    cell = f"{r:.3f}×"
    if len(rr) > 1:
        cell += f" ({min(rr):.3f}–{max(rr):.3f})"
    return cell, r


def fmt(v, digits=1):
    return "?" if v is None else f"{v:.{digits}f}"


def status_note(test, server):
    bad = [f"round {d['round']}: {d['status']}" for d in runs[test, server] if d["status"] != "ok"]
    return ("; ".join(bad)) if bad else ""


def errors(test, server):
    return sum(int(num(d["errors"]) or 0) for d in runs[test, server])


conns = E["CONNS"].split()
out = []
w = out.append
quick = E["QUICK"] == "1"
w("# HTTPS benchmark: corio, nginx and Asio")
w("")
w(f"Generated by `bench/peers/https.sh` on {os.popen('date -u +%Y-%m-%d').read().strip()} at "
  f"commit `{E['commit']}`. Every number is the median of {nrounds} round(s); a fresh server per "
  "point. Ratios compare with nginx measured in the same run.")
if quick:
    w("")
    w(f"**QUICK run** (smoke test: {E['DURATION']} s per point, one round): the numbers show that "
      "the harness works, not how the servers compare; run it without QUICK for that.")
load1 = float(E["load_start"].split()[0])
w("")
if load1 >= 0.5:
    w(f"**Caveat: the machine was not quiet.** Load average (1, 5, 15 min) at the start of the run: "
      f"{E['load_start']}; at the end: {E['load_end']} (the run itself keeps both CPUs busy, so "
      "that one is partly its own). Other work competed for the two CPUs, so absolute numbers "
      "are low and noisy; the ratios, from runs minutes apart, less so.")
else:
    w(f"Load average (1, 5, 15 min) at the start of the run: {E['load_start']}; at the end: "
      f"{E['load_end']} (the run itself keeps both CPUs busy, so that one is mostly its own).")

# --- the goal ---
w("")
w("## The goal")
w("")
w("> CPU per HTTPS request ≤ 1.0× nginx's at the same connection count, handshakes/s ≥ nginx's")
w("")
w("Stated from the unrounded medians (the ratio in brackets is the range over the rounds):")
w("")
for c in conns:
    t = f"get:{c}"
    for s in ("corio_io_uring", "corio_epoll"):
        if (t, s) not in runs or (t, "nginx") not in runs:
            continue
        cell, r = ratio_cell(t, s, "cpu")
        if r is None:
            w(f"- {c} connections, corio {backend[s][1]}: no result")
            continue
        verdict = "**met**" if r <= 1.0 else "**not met**"
        rr = per_round_ratios(t, s, "cpu")
        if len(rr) > 1 and min(rr) <= 1.0 < max(rr):
            verdict += " (the rounds disagree: within noise)"
        w(f"- {c} connections, corio {backend[s][1]}: CPU per request {cell} nginx's: {verdict}")
hs_tests = [("s_time_new", "full handshakes, `openssl s_time -new` (one at a time)"),
            ("s_time_reuse_tls12", "resumed handshakes, `openssl s_time -reuse -tls1_2` (one at a time)"),
            (f"close:{E['CLOSE_CONNS']}",
             f"full handshakes, `wrk -c{E['CLOSE_CONNS']} -H 'Connection: close'` ({E['CLOSE_CONNS']} at a time)")]
for t, label in hs_tests:
    for s in ("corio_io_uring", "corio_epoll"):
        if (t, s) not in runs or (t, "nginx") not in runs:
            continue
        cell, r = ratio_cell(t, s, "rate")
        ccell, cr = ratio_cell(t, s, "cpu")
        if r is None:
            w(f"- {label}, corio {backend[s][1]}: no result")
            continue
        verdict = "**met**" if r >= 1.0 else "**not met**"
        rr = per_round_ratios(t, s, "rate")
        if len(rr) > 1 and min(rr) < 1.0 <= max(rr):
            verdict += " (the rounds disagree: within noise)"
        w(f"- {label}, corio {backend[s][1]}: handshakes/s {cell} nginx's: {verdict}; "
          f"server CPU per handshake {ccell} nginx's")

# --- keep-alive tables ---
for c in conns:
    t = f"get:{c}"
    w("")
    w(f"## Keep-alive GETs, {c} connections")
    w("")
    w(f"`wrk --latency -t1 -c{c} -d{E['DURATION']}s https://127.0.0.1:PORT/`")
    w("")
    w("| server | backend | req/s | server CPU µs/req | CPU/req vs nginx | req/s vs nginx | p50 µs | p99 µs | CPU % server / wrk | errors |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in order:
        if (t, s) not in runs:
            continue
        cpu_cell, _ = ratio_cell(t, s, "cpu")
        rate_cell, _ = ratio_cell(t, s, "rate")
        note = status_note(t, s)
        w(f"| {backend[s][0]} | {backend[s][1]} | {fmt(med(t, s, 'rate'), 0)} | {fmt(med(t, s, 'cpu'), 2)} | "
          f"{cpu_cell} | {rate_cell} | {fmt(med(t, s, 'p50'), 0)} | {fmt(med(t, s, 'p99'), 0)} | "
          f"{fmt(med(t, s, 'spct'), 0)} / {fmt(med(t, s, 'lpct'), 0)} | {errors(t, s)}"
          f"{' (' + note + ')' if note else ''} |")
    # wrk's N handshakes fall inside the window; how much of each request's CPU they are.
    ct = f"close:{E['CLOSE_CONNS']}"
    share = []
    for s in order:
        hs, n = med(ct, s, "cpu"), med(t, s, "count")
        if hs is not None and n:
            who = f"corio {backend[s][1]}" if s.startswith("corio") else backend[s][0]
            share.append(f"{who} {int(c) * hs / n:.2f}")
    if share:
        w("")
        w(f"Of the CPU per request, wrk's own {c} handshakes at the start of the run (each server's "
          "CPU per handshake from the `Connection: close` run below × "
          f"{c} ÷ requests) are about, in µs: {'; '.join(share)}.")

# --- handshakes ---
w("")
w("## Handshakes")
w("")
w("Handshakes/s is connections completed over the client's wall-clock time. For `s_time` the "
  "column \"as s_time prints\" is its own figure, connections per second of *s_time's user CPU "
  "time*, which is not a rate anyone observes. `s_time` is a single-threaded client with one "
  "connection at a time, so its rate is a latency (client + server + kernel per handshake), "
  "bounded by the client; the server's CPU per handshake is the column to compare. The wrk "
  "row keeps 50 handshakes in flight, so there the busier CPU sets the rate.")
for t, label in hs_tests:
    if not any((t, s) in runs for s in order):
        continue
    w("")
    w(f"### {label[0].upper() + label[1:]}")
    w("")
    if t.startswith("s_time"):
        w("| server | backend | handshakes/s | as s_time prints (conn/user s) | server CPU µs/handshake | CPU/handshake vs nginx | handshakes/s vs nginx | resumed | CPU % server / client |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    else:
        w("| server | backend | handshakes/s | server CPU µs/handshake | CPU/handshake vs nginx | handshakes/s vs nginx | CPU % server / client | errors |")
        w("|---|---|---:|---:|---:|---:|---:|---:|")
    for s in order:
        if (t, s) not in runs:
            continue
        cpu_cell, _ = ratio_cell(t, s, "cpu")
        rate_cell, _ = ratio_cell(t, s, "rate")
        note = status_note(t, s)
        note = f" ({note})" if note else ""
        if t.startswith("s_time"):
            cnt = sum(int(num(d["count"]) or 0) for d in runs[t, s])
            res = sum(int(num(d["resumed"]) or 0) for d in runs[t, s])
            rescell = f"{100 * res / cnt:.0f} %" if cnt else "?"
            w(f"| {backend[s][0]} | {backend[s][1]} | {fmt(med(t, s, 'rate'), 0)} | {fmt(med(t, s, 'printed'), 0)} | "
              f"{fmt(med(t, s, 'cpu'), 1)} | {cpu_cell} | {rate_cell} | {rescell} | "
              f"{fmt(med(t, s, 'spct'), 0)} / {fmt(med(t, s, 'lpct'), 0)}{note} |")
        else:
            w(f"| {backend[s][0]} | {backend[s][1]} | {fmt(med(t, s, 'rate'), 0)} | {fmt(med(t, s, 'cpu'), 1)} | "
              f"{cpu_cell} | {rate_cell} | {fmt(med(t, s, 'spct'), 0)} / {fmt(med(t, s, 'lpct'), 0)} | "
              f"{errors(t, s)}{note} |")

# --- syscalls ---
sysrows = list(csv.reader(open(E["SYSCALLS_TSV"]), delimiter="\t"))
if sysrows:
    w("")
    w("## Syscalls per request")
    w("")
    w(f"One more `wrk -t1 -c50 -d{E['SYSCALL_TIME']}s` run per server with `perf stat` attached to "
      "its processes (`raw_syscalls:sys_enter` for every syscall, and the `syscalls:sys_enter_*` "
      "tracepoints of the read, write and wait calls one by one), then one more with `strace -f -c "
      "-p PID...`. strace slows the server several times over, so each wakeup finds more requests "
      "waiting and fewer reads come back empty: its counts are lower than perf's and are shown "
      "only as a cross-check. With io_uring one `io_uring_enter` submits and reaps many "
      "operations, so its count is not comparable work for work with the epoll servers'.")
    w("")
    w("| server | backend | syscalls/req (perf) | by call, per request (perf) | syscalls/req under strace | by call under strace |")
    w("|---|---|---:|---|---:|---|")

    def mix(text, n):
        if text == "?" or not n:
            return "?"
        parts = []
        for item in text.split(","):
            sc, calls = item.rsplit(":", 1)
            parts.append(f"{sc} {float(calls) / n:.2f}")
        return ", ".join(parts)

    for name, pc, pr, pmix, st, sr, smix in sysrows:
        pcn, prn, stn, srn = num(pc), num(pr), num(st), num(sr)
        per = pcn / prn if pcn is not None and prn else None
        sper = stn / srn if stn is not None and srn else None
        w(f"| {backend[name][0]} | {backend[name][1]} | {fmt(per, 2)} | {mix(pmix, prn)} | "
          f"{fmt(sper, 2)} | {mix(smix, srn)} |")

# --- negotiated ---
probe = list(csv.reader(open(E["PROBE"]), delimiter="\t"))
w("")
w("## What each server negotiates")
w("")
w("`openssl s_client -brief` against each server with its defaults (wrk and `s_time -new` "
  "negotiate the same: they offer TLS 1.3 with OpenSSL's default groups).")
w("")
w("| server | backend | protocol | cipher suite | key exchange |")
w("|---|---|---|---|---|")
for name, proto, suite, kex in probe:
    w(f"| {backend[name][0]} | {backend[name][1]} | {proto} | {suite} | {kex} |")

w("")
w(f"""## Method

- **Servers**, each on one thread pinned to CPU {E['SERVER_CPU']} (`taskset -c`), a fresh process per
  point, all linking the same OpenSSL (Debian's libssl3) and serving the same ECDSA P-256
  certificate from `tests/tls/make_certs.sh`:
  - corio: `examples/http_hello --backend io_uring|epoll --tls-cert server.pem --tls-key server.key`.
  - nginx: Debian's package, a generated config: `worker_processes 1; master_process on;
    daemon off;`, `listen 127.0.0.1:PORT ssl`, `ssl_protocols TLSv1.2 TLSv1.3`, `access_log
    off; keepalive_requests 1000000; default_type text/plain;`, `location / {{ return 200
    "Hello, world!"; }}`, pid, logs and temp paths in a temporary directory. Its master and
    its worker are both counted. It answers with two more headers than the others (`Server`,
    `Date`: 160 bytes, against 99), as a packaged nginx does.
  - Asio: `bench/peers/asio_ssl_http.cpp`, standalone Asio {E['asio_version']} with asio::ssl, one
    `io_context` on one thread, one coroutine per connection; answers every request head in
    a read with http_hello's exact bytes, one write for all of them.
  Session resumption is each server's default: OpenSSL's session tickets (nginx's
  `ssl_session_cache` is its default, none).
- **Clients**, pinned to CPU {E['LOADGEN_CPU']}: wrk (one thread, keep-alive, `--latency`), and
  `openssl s_time`. Before every measured run the same client runs {E['WARMUP']} s against the same
  server as a warm-up, not counted.
- **Server CPU** is utime + stime of the server's processes (all threads, io_uring's workers
  included) from `/proc/PID/stat`, read just before the client starts and just after it exits,
  divided by the requests (wrk's count) or connections (s_time's count). The window includes
  wrk's connection set-up, so it carries N handshakes too (estimated under each table).
  Resolution: one clock tick (10 ms). Loopback TCP work is
  charged to whichever side runs it, alike for every server.
- **Resumption.** `s_time -reuse` as it is offers TLS 1.3, and s_time never reads after the
  handshake, so it never receives the session ticket a TLS 1.3 server sends then: against
  every server here, no connection resumed (every progress mark is `*`, none `r`); it measures
  full handshakes again. `-reuse -tls1_2` resumes (TLS 1.2 tickets arrive inside the
  handshake); the resumed column counts the `r` marks, so a silent fallback would show.
- **Errors.** wrk's socket errors (connect, read, write, timeout) and non-2xx answers, summed
  over the rounds; s_time's lines with "error" or "unable to".
- **Rounds.** {nrounds} round(s); within a round the tests run one after another and, for each,
  every server; the server order rotates each round. Medians per server; the ratios in brackets
  are each round's own ratio to nginx, so their range shows the noise.

## Machine

- CPU: {E['cpu_model'] or 'unknown'}; `nproc`: {os.popen('nproc').read().strip()}
- Kernel: {os.uname().release}
- nginx: {E['nginx_version']}; {E['openssl_version']}; {E['wrk_version']}; {E['compiler']}

## Command

```
{E['invocation']}
```""")
print("\n".join(out))
if E["NOTES"]:
    print()
    print(E["NOTES"])
PY

say "wrote $OUT"
if [ "$failures" -gt 0 ]; then
  say "$failures run(s) failed; see the doc"
  exit 1
fi
