#!/usr/bin/env bash
# bench/peers/run.sh: corio's echo server side by side with its peers.
#
# Installs the Debian packages it needs (as root), builds the release preset with
# -DCORIO_BUILD_PEERS=ON into build/release, then for every server and connection count
# runs the server pinned to one CPU and loadgen pinned to another, and writes
# docs/benchmarks.md and docs/benchmarks.png.
#
#   bench/peers/run.sh                  # 5 s per run; 1, 50, 500, 1000 connections
#   QUICK=1 bench/peers/run.sh          # smoke test: 1 s per run; 1 and 50 connections
#
# Environment: DURATION (s, default 5), WARMUP (s, default 1), CONNS ("1 50 500 1000"),
# SIZE (bytes, 64), JOBS (build parallelism, 2), SERVER_CPU (0), LOADGEN_CPU (1),
# PYTHON (/usr/bin/python3: Debian's python3-uvloop lives there), CORIO_ECHO_SERVER
# (path to corio's echo_server, if not in build/release/examples), OUT (docs/benchmarks).
# Exits 1 if any run failed (the docs are still written, with the failure marked).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  DURATION=${DURATION:-1}
  CONNS=${CONNS:-"1 50"}
fi
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-"1 50 500 1000"}
SIZE=${SIZE:-64}
JOBS=${JOBS:-2}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-$root/docs/benchmarks}
build=$root/build/release
peers=$build/bench/peers

say() { echo "peers: $*" >&2; }

# --- packages ------------------------------------------------------------------------
# The corio build (its tests and benchmarks configure too), the peers, gnuplot.
packages=(
  cmake ninja-build gcc g++ pkg-config util-linux
  libgtest-dev libgmock-dev libbenchmark-dev
  liburing-dev libuv1-dev libasio-dev python3 python3-uvloop gnuplot-nox
)
# shellcheck source=bench/peers/packages.sh
source "$root/bench/peers/packages.sh"
install_missing "${packages[@]}"

# --- build ---------------------------------------------------------------------------
say "building the release preset with the peers (-j$JOBS)"
cmake --preset release -DCORIO_BUILD_PEERS=ON >/dev/null
targets=(corio_peers)
# corio's echo_server comes from another branch; build it when this tree has it. (No
# grep -q: it would stop reading early, and pipefail would call ninja's SIGPIPE a miss.)
if [ -z "${CORIO_ECHO_SERVER:-}" ] &&
    ninja -C "$build" -t targets all 2>/dev/null | grep '^echo_server:' >/dev/null; then
  targets+=(echo_server)
fi
cmake --build --preset release -j "$JOBS" --target "${targets[@]}"

corio_bin=${CORIO_ECHO_SERVER:-}
if [ -z "$corio_bin" ]; then
  for f in "$build/examples/echo_server" "$build/examples/echo_server/echo_server"; do
    if [ -f "$f" ] && [ -x "$f" ]; then corio_bin=$f; break; fi
  done
fi

tmp=$(mktemp -d)
server_pid=""  # the server being measured; stopped too if this script dies early
trap '[ -z "$server_pid" ] || kill -TERM "$server_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

# starts CMD...: does this server come up and print its port? (corio's echo_server may
# be built without a backend, or the kernel may refuse io_uring.) Says why if not.
starts() {
  : >"$tmp/probe.out"
  "$@" --port 0 >"$tmp/probe.out" 2>"$tmp/probe.err" &
  local pid=$! up=1
  for _ in $(seq 50); do
    if grep 'listening on' "$tmp/probe.out" >/dev/null; then up=0; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$up" -ne 0 ]; then say "  $* did not start: $(head -c 200 "$tmp/probe.err")"; fi
  return "$up"
}

# --- the servers -----------------------------------------------------------------------
# name | floor it is compared with | command (run.sh adds --port 0)
servers=()
add() { servers+=("$1|$2|$3"); }
have() { [ -x "$peers/$1" ] || { say "skipping $1: not built (its package is missing?)"; return 1; }; }
have c_epoll_echo && add c_epoll c_epoll "$peers/c_epoll_echo"
have c_uring_echo && add c_uring c_uring "$peers/c_uring_echo"
if [ -n "$corio_bin" ]; then
  for backend in epoll io_uring; do
    floor=c_epoll
    if [ "$backend" = io_uring ]; then floor=c_uring; fi
    if starts "$corio_bin" --backend "$backend"; then
      add "corio_$backend" "$floor" "$corio_bin --backend $backend"
    else
      say "skipping corio_$backend"
    fi
  done
else
  say "skipping corio: no echo_server in $build/examples (set CORIO_ECHO_SERVER to point at one)"
fi
have asio_echo_epoll && add asio_epoll c_epoll "$peers/asio_echo_epoll"
have asio_echo_uring && add asio_uring c_uring "$peers/asio_echo_uring"
have uv_echo && add libuv c_epoll "$peers/uv_echo"
py=$root/bench/peers/py_asyncio_echo.py
if "$PYTHON" -c 'import uvloop' 2>/dev/null; then
  add uvloop c_epoll "$PYTHON $py --uvloop"
else
  say "skipping uvloop: $PYTHON cannot import uvloop"
fi
add asyncio c_epoll "$PYTHON $py"

# Each connection is an fd in the server and one in loadgen.
max_conns=0
for c in $CONNS; do if [ "$c" -gt "$max_conns" ]; then max_conns=$c; fi; done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((max_conns + 64)) ]; then
  say "RLIMIT_NOFILE is $(ulimit -n), too low for $max_conns connections"
  exit 1
fi

results=$tmp/results.tsv
failures=0

# run_one NAME FLOOR CONNS COMMAND...: one server, one loadgen run, one results row.
run_one() {
  local name=$1 floor=$2 conns=$3
  shift 3
  local log=$tmp/$name.$conns
  # Created here, not only by the redirection below: that happens in the child, which
  # may not have run yet when we first look for the port.
  : >"$log.out"
  taskset -c "$SERVER_CPU" "$@" --port 0 >"$log.out" 2>"$log.err" &
  local spid=$! port=""
  server_pid=$spid
  for _ in $(seq 100); do
    port=$(awk '/listening on/ { n = split($NF, a, ":"); print a[n]; exit }' "$log.out")
    [ -n "$port" ] && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  local line="" lg_rc=0 srv_rc=0 status=ok
  if [ -z "$port" ]; then
    status="server did not start"
  else
    line=$(taskset -c "$LOADGEN_CPU" "$peers/loadgen" --host 127.0.0.1 --port "$port" \
      --conns "$conns" --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" \
      --pid "$spid" 2>"$log.lg") || lg_rc=$?
    if [ "$lg_rc" -ne 0 ]; then
      status="loadgen failed ($(head -c 200 "$log.lg" | tr '\n' ' '))"
    fi
  fi
  kill -TERM "$spid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$spid" 2>/dev/null; then
    kill -KILL "$spid" 2>/dev/null || true
    if [ "$status" = ok ]; then status="server ignored SIGTERM"; fi
  fi
  wait "$spid" || srv_rc=$?
  server_pid=""
  if [ "$status" = ok ] && [ "$srv_rc" -ne 0 ]; then status="server exited $srv_rc"; fi
  if [ "$status" != ok ]; then
    failures=$((failures + 1))
    say "$name conns=$conns: $status; server stderr: $(head -c 300 "$log.err" | tr '\n' ' ')"
  fi

  local rps='?' p50='?' p99='?' cpu='?' spct='?' lpct='?' kv
  for kv in $line; do
    case ${kv%%=*} in
      rps) rps=${kv#*=} ;;
      p50_us) p50=${kv#*=} ;;
      p99_us) p99=${kv#*=} ;;
      server_cpu_us_per_req) cpu=${kv#*=} ;;
      server_cpu_pct) spct=${kv#*=} ;;
      loadgen_cpu_pct) lpct=${kv#*=} ;;
    esac
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$floor" "$conns" \
    "$rps" "$p50" "$p99" "$cpu" "$status" "$spct" "$lpct" >>"$results"
  say "$(printf '%-15s conns=%-5s rps=%-8s p50=%-8s p99=%-8s cpu/req=%-7s cpu%%=%s/%s  %s' \
    "$name" "$conns" "$rps" "$p50" "$p99" "$cpu" "$spct" "$lpct" "$status")"
}

say "$DURATION s per run after $WARMUP s warmup, $SIZE B messages, conns: $CONNS"
# Connection count outermost: a server and its floor run minutes apart at most, so a
# burst of other load skews one column of ratios rather than one server's every row.
for c in $CONNS; do
  for entry in "${servers[@]}"; do
    IFS='|' read -r name floor cmd <<<"$entry"
    # shellcheck disable=SC2086  # cmd is a program and its flags, split on purpose
    run_one "$name" "$floor" "$c" $cmd
  done
done
names=$(cut -f1 "$results" | awk '!seen[$0]++' | tr '\n' ' ')

# --- docs/benchmarks.md ------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
md=$OUT.md png=$OUT.png
cpu_model=$(lscpu | sed -n 's/^Model name: *//p')
compiler=$(gcc --version | sed -n 1p)
versions=$(dpkg-query -W -f='${Package} ${Version}; ' \
  liburing-dev libuv1-dev libasio-dev python3-uvloop 2>/dev/null || true)
versions+="Python $("$PYTHON" -c 'import platform; print(platform.python_version())')"
{
  echo "# Echo benchmark: corio and its peers"
  echo
  echo "Generated by \`bench/peers/run.sh\` on $(date -u +%Y-%m-%d) at commit" \
    "\`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`."
  echo "HTTPS (corio's http_hello against nginx and Asio): [benchmarks-https.md](benchmarks-https.md)."
  if [ "$QUICK" = 1 ]; then
    echo "**QUICK run** (smoke test: ${DURATION} s per point, connections $CONNS): the numbers"
    echo "show that the harness works, not how the servers compare; run it without QUICK for that."
  fi
  [ -n "$corio_bin" ] || echo "corio's \`echo_server\` was not built, so corio is missing from this run."
  echo
  echo "| server | conns | req/s | p50 µs | p99 µs | server CPU µs/req | CPU/req vs floor | CPU % server / loadgen |"
  echo "|---|---:|---:|---:|---:|---:|---|---:|"
  # Rows by server (in run order), then by connection count.
  awk -F'\t' -v names="$names" -v conns="$CONNS" '
    { row[$1, $3] = $0; if ($1 == $2 && $7 != "?") floor[$1, $3] = $7 }
    END {
      k = split(names, s, " "); m = split(conns, c, " ")
      for (j = 1; j <= k; ++j) for (i = 1; i <= m; ++i) {
        if (!((s[j], c[i]) in row)) continue
        split(row[s[j], c[i]], f, "\t")
        ratio = "n/a"
        if ((f[2], f[3]) in floor && f[7] != "?" && floor[f[2], f[3]] + 0 > 0)
          ratio = sprintf("%.2f× %s", f[7] / floor[f[2], f[3]], f[2])
        note = f[8] == "ok" ? "" : " (" f[8] ")"
        printf "| %s | %s | %s | %s | %s | %s | %s%s | %s / %s |\n", \
          f[1], f[3], f[4], f[5], f[6], f[7], ratio, note, f[9], f[10]
      }
    }' "$results"
  echo
  echo "![req/s and server CPU per request by connection count](benchmarks.png)"
  cat <<EOF

## Method

- **Servers.** Each echoes every byte back, single-threaded, TCP_NODELAY on every
  connection. Floors: \`c_epoll_echo.c\` (level-triggered epoll, one \`recv\` and one \`send\`
  per readable event) and \`c_uring_echo.c\` (liburing: multishot accept, multishot recv
  into a provided-buffer ring, send from the received buffer, SINGLE_ISSUER|DEFER_TASKRUN).
  Peers: Asio's C++20 coroutines (\`asio_echo.cpp\`, once on Asio's epoll reactor and once
  with \`ASIO_HAS_IO_URING ASIO_DISABLE_EPOLL\`), libuv (\`uv_echo.c\`), asyncio with an
  \`asyncio.Protocol\` (the fastest asyncio offers), and the same code on uvloop. corio
  runs \`examples/echo_server\` with \`--backend epoll\` and \`--backend io_uring\`.
  The ratio column divides a server's CPU per request by the matching floor's, at the same
  connection count: the io_uring floor for io_uring servers, the epoll floor for the rest.
- **Load.** \`loadgen.c\`: one thread, one epoll, N connections over loopback, closed loop
  (each connection sends a ${SIZE} B message, waits for the whole echo, checks every byte,
  then sends the next; one message in flight per connection). Message bytes are unique per
  connection and sequence number, so misrouted or stale bytes fail the run. The first
  ${WARMUP} s (warmup) are not counted, then ${DURATION} s are measured. A fresh server per
  point; connection counts in the outer loop, so a server and its floor run close in time.
- **Pinning.** Server on CPU ${SERVER_CPU}, loadgen on CPU ${LOADGEN_CPU} (\`taskset -c\`).
  At high connection counts one loadgen thread can saturate its CPU before a fast server
  does; req/s then measures loadgen, which is why CPU per request is the column to compare.
  The last column shows who was busy: the server's and loadgen's CPU use over the window
  (100 = one core). Both well under 100 with millisecond p99s means other work on the
  machine was taking the CPUs.
- **Server CPU.** utime + stime of the server process (all its threads, including
  io_uring's io-wq workers, which are threads of the process) from \`/proc/<pid>/stat\`,
  read by loadgen at the start and end of the measured window, divided by the requests
  completed in that window. The kernel's loopback TCP work is charged to whichever side
  sends, so it is in every server's figure alike. Resolution is one clock tick (10 ms):
  under 1 % of a busy 5 s window, more for short or idle runs.
- **Noise.** Other work shared this machine; compare ratios within one run, not absolute
  numbers across runs.
- **Plot.** gnuplot (Debian \`gnuplot-nox\`): a small Debian tool with no Python
  dependencies, so the harness needs nothing outside apt.

## Machine

- CPU: ${cpu_model:-unknown}; $(nproc) cores online
- Kernel: $(uname -r)
- Compiler: $compiler
- Packages: $versions
EOF
} >"$md"

# --- docs/benchmarks.png -------------------------------------------------------------------
# Two matrices, a row per connection count and a column per server: req/s, CPU µs/req.
for metric in 4 7; do
  awk -F'\t' -v col="$metric" -v names="$names" '
    { v[$1, $3] = $col; if (!($3 in seen)) { seen[$3] = 1; order[++n] = $3 } }
    END {
      k = split(names, s, " ")
      line = "conns"; for (j = 1; j <= k; ++j) line = line " " s[j]; print line
      for (i = 1; i <= n; ++i) {
        line = order[i]
        for (j = 1; j <= k; ++j) line = line " " ((s[j], order[i]) in v ? v[s[j], order[i]] : "?")
        print line
      }
    }' "$results" >"$tmp/metric$metric.dat"
done
ncols=$(($(echo "$names" | wc -w) + 1))
read -ra conns_list <<<"$CONNS"
xtics=$(IFS=,; echo "${conns_list[*]}")
gnuplot <<EOF
set terminal pngcairo size 1400,560 font "sans,10" noenhanced
set output "$png"
set datafile missing "?"
set key outside right top
set logscale x
set xtics ($xtics)
set xlabel "connections"
set grid
set multiplot layout 1,2 title "echo, ${SIZE} B messages, closed loop (${DURATION} s per point)"
set ylabel "requests / s"
set yrange [0:*]
plot for [i=2:$ncols] "$tmp/metric4.dat" using 1:i with linespoints lw 2 title columnheader(i)
set ylabel "server CPU µs / request (lower is better)"
plot for [i=2:$ncols] "$tmp/metric7.dat" using 1:i with linespoints lw 2 title columnheader(i)
unset multiplot
EOF

say "wrote $md and $png"
if [ "$failures" -gt 0 ]; then
  say "$failures run(s) failed; see the table"
  exit 1
fi
