#!/usr/bin/env bash
# Soak: SOAK_CONNS (10,000) concurrent echo connections for SOAK_SECONDS (60) against
# examples/echo_server, per backend. corio-bench's echo clients compare every byte that
# comes back with what they sent; the server's RSS is sampled every SOAK_SAMPLE seconds
# and must stay flat after warm-up (the first quarter); its descriptor count must be back
# to the baseline once the clients are gone. Prints PASS/FAIL per backend; exits 1 on
# any FAIL.
#
#   bench/soak/soak.sh [BUILD_DIR] [BACKEND...]     (default: build/release, else build/dev;
#                                                     io_uring epoll poll)
#   SOAK_SECONDS=20 SOAK_CONNS=2000 bench/soak/soak.sh build/dev epoll
#
# Not part of ctest: it needs minutes and a raised descriptor limit.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${1:-}
if [[ -z "$build" ]]; then
  build=build/release
  [[ -x $build/examples/echo_server ]] || build=build/dev
fi
shift || true
backends=("$@")
[[ ${#backends[@]} -gt 0 ]] || backends=(io_uring epoll poll)

seconds=${SOAK_SECONDS:-60}
conns=${SOAK_CONNS:-10000}
size=${SOAK_SIZE:-64}
sample=${SOAK_SAMPLE:-2}
rss_slack_kb=${SOAK_RSS_SLACK_KB:-8192}  # allowed drift after warm-up
port=${SOAK_PORT:-18890}
server=$build/examples/echo_server
bench=$build/bench/corio-bench
for exe in "$server" "$bench"; do
  [[ -x $exe ]] || { echo "soak: $exe not built" >&2; exit 2; }
done

# Each side holds one descriptor per connection: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"
need=$((conns + 256))
if (( $(ulimit -n) < need )); then
  echo "soak: RLIMIT_NOFILE is $(ulimit -n), need $need (raise the hard limit)" >&2
  exit 2
fi

# Both tolerate a server that died: the verdict below reports it instead of set -e.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }
fd_count() { { ls "/proc/$1/fd" 2>/dev/null || true; } | wc -l; }

status=0
for backend in "${backends[@]}"; do
  log=$(mktemp)
  "$server" --backend "$backend" --port "$port" >"$log" 2>&1 &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true' EXIT  # never leave a server behind
  for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
  if ! grep -q listening "$log"; then
    echo "[$backend] SKIP: the server did not start: $(head -c 300 "$log")"
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    continue
  fi
  fd_base=$(fd_count "$pid")
  samples=()
  (
    while kill -0 "$pid" 2>/dev/null; do
      echo "$(rss_kb "$pid") $(fd_count "$pid")" || true
      sleep "$sample"
    done
  ) >"$log.samples" 2>/dev/null &
  sampler=$!
  json=$("$bench" echo --host 127.0.0.1 --port "$port" --conns "$conns" --size "$size" \
           --duration "$seconds" --warmup 0 --backend "$backend" --json 2>"$log.bench" | tail -1) || true
  # Sampling covers the load only, not the clients' disconnects below.
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  # The clients have exited: their sockets close, the server's handlers see EOF.
  fd_end=$fd_base
  for _ in $(seq 100); do
    fd_end=$(fd_count "$pid")
    (( fd_end <= fd_base )) && break
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  mapfile -t samples < <(awk 'NF == 2 {print $1}' "$log.samples")
  fd_peak=$(awk 'NF == 2 && $2 > m {m = $2} END {print m + 0}' "$log.samples")
  n=${#samples[@]}
  warm=$((n / 4))
  post=("${samples[@]:$warm}")
  rss_min=$(printf '%s\n' "${post[@]}" | sort -n | head -1)
  rss_max=$(printf '%s\n' "${post[@]}" | sort -n | tail -1)
  ops=$(sed -n 's/.*"ops":\([0-9]*\).*/\1/p' <<<"$json")
  errors=$(sed -n 's/.*"errors":\([0-9]*\).*/\1/p' <<<"$json")
  verdict=PASS
  reasons=()
  [[ -n "$ops" && "$ops" -gt 0 ]] || { verdict=FAIL; reasons+=("no result from corio-bench: $(tail -c 300 "$log.bench")"); }
  [[ "${errors:-1}" == 0 ]] || { verdict=FAIL; reasons+=("$errors messages came back wrong"); }
  (( fd_end <= fd_base )) || { verdict=FAIL; reasons+=("fds $fd_end after, $fd_base before"); }
  (( n >= 4 && rss_max - rss_min <= rss_slack_kb )) ||
    { verdict=FAIL; reasons+=("RSS moved ${rss_min}..${rss_max} KiB after warm-up ($n samples)"); }
  echo "[$backend] $verdict: $conns conns x ${seconds}s, ${ops:-0} round trips of $size B" \
       "($(( ${ops:-0} * size * 2 )) bytes checked, ${errors:-?} bad)," \
       "server RSS after warm-up ${rss_min}..${rss_max} KiB (peak of all $(printf '%s\n' "${samples[@]}" | sort -n | tail -1) KiB, $n samples)," \
       "fds ${fd_base} -> peak ${fd_peak} -> ${fd_end}" "${reasons[@]/#/; }"
  [[ $verdict == PASS ]] || status=1
  rm -f "$log" "$log.samples" "$log.bench"
done
exit $status
