#!/usr/bin/env bash
# An unmodified sockperf server on kernel sockets and under lrp-run (modes
# poll and adaptive), measured by sockperf's own clients in the same run:
# ping-pong latency (p50, p99, p99.9) and throughput (datagrams per second
# the server received). Server on CPU 1, client on CPU 0 (ping-pong client
# at SCHED_FIFO). Medians over REPEAT rounds; the servers alternate within
# each round so drift in the machine's load hits all of them alike.
#   DURATION=5 REPEAT=3 MSG=64 BUILD_DIR=build benchmarks/sockperf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/bench-lib.sh
DURATION=${DURATION:-5}
REPEAT=${REPEAT:-3}
MSG=${MSG:-64}
SERVERS=${SERVERS:-"kernel lrp-poll lrp-adaptive"}
[[ -x $bin/lrp-run ]] || { echo "sockperf.sh: $bin/lrp-run not built" >&2; exit 1; }
bench_setup
work=$(mktemp -d)
trap 'bench_cleanup; rm -rf "$work"' EXIT INT TERM

start_server() {  # kind
  local cmd=(sockperf server -i 198.18.0.1 -p 11111)
  case $1 in
    kernel) ;;
    lrp-poll) cmd=("$bin/lrp-run" --in-process --iface "$sif" --mode poll -- "${cmd[@]}") ;;
    lrp-adaptive) cmd=("$bin/lrp-run" --in-process --iface "$sif" --mode adaptive -- "${cmd[@]}") ;;
    *) echo "sockperf.sh: unknown server $1" >&2; exit 2 ;;
  esac
  rm -f "$work/pid"
  ip netns exec "$srv" sh -c 'echo $$ > "$0"; exec taskset -c 1 "$@"' "$work/pid" "${cmd[@]}" \
    > "$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do
    grep -q "block on socket" "$work/server.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "sockperf.sh: $1 server did not start:" >&2
  cat "$work/server.log" >&2
  exit 1
}

stop_server() {
  kill -INT "$(cat "$work/pid")"
  wait "$server_pid" || true
  server_pid=
}

# p50 p99 p99.9 in microseconds
ping_pong() {
  ip netns exec "$cli" taskset -c 0 chrt -f 50 sockperf ping-pong -i 198.18.0.1 -p 11111 \
    -t "$DURATION" -m "$MSG" 2>&1 |
    awk '/percentile 50.000/ {p50=$6} /percentile 99.000/ {p99=$6} /percentile 99.900/ {p999=$6}
         END {print p50, p99, p999}'
}

# datagrams per second the client sent
throughput_client() {
  ip netns exec "$cli" taskset -c 0 sockperf throughput -i 198.18.0.1 -p 11111 \
    -t "$DURATION" -m "$MSG" --mps max 2>&1 | awk '/messages sent in/ {printf "%.0f", $4 / $8}'
}

# datagrams per second the server received (it reports them when it stops)
server_rate() {
  awk -v t="$DURATION" '/messages received and handled/ {n = $3} END {printf "%.0f", n / t}' \
    "$work/server.log"
}

echo "sockperf.sh: DURATION=$DURATION s REPEAT=$REPEAT MSG=$MSG bytes, servers: $SERVERS"
for round in $(seq "$REPEAT"); do
  for kind in $SERVERS; do
    start_server "$kind"
    read -r p50 p99 p999 < <(ping_pong)
    stop_server
    start_server "$kind"
    tx=$(throughput_client)
    stop_server
    rx=$(server_rate)
    echo "$round $kind $p50 $p99 $p999 $rx $tx" | tee -a "$work/results"
  done
done

median() {  # kind column
  awk -v k="$1" -v c="$2" '$2 == k {print $c}' "$work/results" | sort -g |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

echo
printf "%-14s %10s %10s %10s %14s %14s\n" server p50_us p99_us p99.9_us rx_msg_per_s tx_msg_per_s
for kind in $SERVERS; do
  printf "%-14s %10s %10s %10s %14s %14s\n" "$kind" "$(median "$kind" 3)" "$(median "$kind" 4)" \
    "$(median "$kind" 5)" "$(median "$kind" 6)" "$(median "$kind" 7)"
done
if [[ " $SERVERS " == *" kernel "* ]]; then
  echo
  echo "ratios to the kernel (latency: lower is better, target <= 0.8; throughput: higher is better)"
  for kind in $SERVERS; do
    [[ $kind == kernel ]] && continue
    awk -v k="$kind" -v a="$(median "$kind" 3)" -v b="$(median kernel 3)" \
      -v c="$(median "$kind" 4)" -v d="$(median kernel 4)" -v e="$(median "$kind" 5)" \
      -v f="$(median kernel 5)" -v g="$(median "$kind" 6)" -v h="$(median kernel 6)" \
      'BEGIN {printf "%-14s p50 %.2f  p99 %.2f  p99.9 %.2f  rx %.2f\n", k, a / b, c / d, e / f, g / h}'
  done
fi
