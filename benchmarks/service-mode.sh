#!/usr/bin/env bash
# Service mode against the kernel and in-process lrp, in one run: an
# unmodified sockperf server on kernel sockets (kernel), under lrp-run
# --in-process (in-process), and under lrp-run attached to lrpd (lrpd).
# For each, measured by sockperf's own clients:
#   - ping-pong latency p50/p99, and the server core's busy time per round
#     trip during it (pp_busy_ns);
#   - under-load latency p50/p99 at RATE datagrams per second, and during it
#     the server core's busy time per datagram (CPU 1 not idle in /proc/stat: what
#     the operator pays: server, lrpd's engine and softirq work there) beside
#     what lrp charges the application per datagram (in-process: its metrics;
#     lrpd: lrpctl apps) and lrpd's engine CPU per datagram (lrpctl status);
#   - throughput: datagrams per second the server received under --mps max.
# Then the time a socket takes to attach (bind) and detach (close) under
# each (benchmarks/attach-time.py). The server (and lrpd's engine) run on
# CPU 1, the clients on CPU 0 (ping-pong at SCHED_FIFO). REPEAT rounds run
# the servers in turn, so drift in the machine's load hits them alike; the
# summary gives medians and the ratio of each to the kernel.
#   DURATION=3 REPEAT=3 MSG=64 RATE=50000 BUILD_DIR=build benchmarks/service-mode.sh
# LRPD_ARGS adds options to lrpd's command line (e.g. --mode poll).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/bench-lib.sh
DURATION=${DURATION:-3}
REPEAT=${REPEAT:-3}
MSG=${MSG:-64}
RATE=${RATE:-50000}
ATTACH=${ATTACH:-200}
SERVERS=${SERVERS:-"kernel in-process lrpd"}
METRICS=127.0.0.1:9475
for b in lrp-run lrpd lrpctl; do
  [[ -x $bin/$b ]] || { echo "service-mode.sh: $bin/$b not built" >&2; exit 1; }
done
bench_setup
work=$(mktemp -d)
lrpd_pid=
stop_lrpd() {
  [[ -n $lrpd_pid ]] || return 0
  kill -TERM "$lrpd_pid" 2>/dev/null || true
  wait "$lrpd_pid" 2>/dev/null || true
  lrpd_pid=
}
trap 'stop_lrpd; bench_cleanup; rm -rf "$work"' EXIT INT TERM
ctl() { "$bin/lrpctl" --socket "$work/lrpd.sock" "$@"; }
json() {  # expression over the JSON on stdin, e.g. 'sum(a["charged_ns"] for a in j)'
  python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

start_lrpd() {
  # shellcheck disable=SC2086 # LRPD_ARGS are words
  ip netns exec "$srv" "$bin/lrpd" --iface "$sif" --socket "$work/lrpd.sock" --cpus 1 \
    ${LRPD_ARGS:-} > "$work/lrpd.log" 2>&1 &
  lrpd_pid=$!
  for _ in $(seq 100); do
    grep -q "control socket" "$work/lrpd.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "service-mode.sh: lrpd did not start:" >&2
  cat "$work/lrpd.log" >&2
  exit 1
}

launcher() {  # kind: the command prefix that serves a program that way
  case $1 in
    kernel) ;;
    in-process) echo "$bin/lrp-run --in-process --iface $sif --metrics $METRICS --" ;;
    lrpd) echo "$bin/lrp-run --socket $work/lrpd.sock --" ;;
    *) echo "service-mode.sh: unknown server $1" >&2; exit 2 ;;
  esac
}

start_server() {  # kind
  local prefix; prefix=$(launcher "$1")
  rm -f "$work/pid"
  # shellcheck disable=SC2086 # the prefix is words
  ip netns exec "$srv" sh -c 'echo $$ > "$0"; exec taskset -c 1 "$@"' "$work/pid" $prefix \
    sockperf server -i 198.18.0.1 -p 11111 > "$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q "block on socket" "$work/server.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "service-mode.sh: $1 server did not start:" >&2
  cat "$work/server.log" >&2
  exit 1
}

stop_server() {
  kill -INT "$(cat "$work/pid")"
  wait "$server_pid" || true
  server_pid=
}

client() {  # sockperf client arguments...
  ip netns exec "$cli" taskset -c 0 sockperf "$1" -i 198.18.0.1 -p 11111 -t "$DURATION" \
    -m "$MSG" "${@:2}" 2>&1
}

percentiles() {  # p50 p99 in microseconds, from sockperf's output on stdin
  awk '/percentile 50.000/ {p50 = $6} /percentile 99.000/ {p99 = $6} END {print p50, p99}'
}

charged_ns() {  # kind: protocol CPU lrp charged to the server's application so far
  case $1 in
    in-process)
      ip netns exec "$srv" curl -s "http://$METRICS/metrics" |
        awk '/^lrp_protocol_cpu_seconds_total/ {s += $NF} END {printf "%.0f", s * 1e9}' ;;
    lrpd) ctl apps --json | json 'sum(a["charged_ns"] for a in j)' ;;
    *) echo 0 ;;
  esac
}

engine_ns() {  # kind: lrpd's engine CPU so far
  if [[ $1 == lrpd ]]; then ctl status --json | json 'sum(e["engine_cpu_ns"] for e in j["engines"])'
  else echo 0; fi
}

measure() {  # kind -> one result line
  local kind=$1
  [[ $kind == lrpd ]] && start_lrpd
  start_server "$kind"
  local p0 p1 pp pp50 pp99 trips
  p0=$(cpu_sample 1)
  pp=$(client ping-pong)
  p1=$(cpu_sample 1)
  read -r pp50 pp99 < <(percentiles <<<"$pp")
  trips=$(sed -n 's/.*Total Run.*ReceivedMessages=\([0-9]*\).*/\1/p' <<<"$pp")
  local c0 e0 s0 out
  c0=$(charged_ns "$kind"); e0=$(engine_ns "$kind"); s0=$(cpu_sample 1)
  out=$(client under-load --mps "$RATE")
  local s1 c1 e1
  s1=$(cpu_sample 1); c1=$(charged_ns "$kind"); e1=$(engine_ns "$kind")
  local lp50 lp99; read -r lp50 lp99 < <(percentiles <<<"$out")
  local sent; sent=$(sed -n 's/.*Total Run.*SentMessages=\([0-9]*\).*/\1/p' <<<"$out")
  stop_server
  start_server "$kind"
  client throughput --mps max > /dev/null
  stop_server
  local rx; rx=$(awk -v t="$DURATION" '/messages received and handled/ {n = $3}
                 END {printf "%.0f", n / t}' "$work/server.log")
  local attach
  # shellcheck disable=SC2046 # the prefix is words
  attach=$(ip netns exec "$srv" taskset -c 1 $(launcher "$kind") python3 \
    benchmarks/attach-time.py "$ATTACH" 20000 | tail -1)
  [[ $kind == lrpd ]] && stop_lrpd
  awk -v k="$kind" -v pp50="$pp50" -v pp99="$pp99" -v lp50="$lp50" -v lp99="$lp99" \
    -v b="$(cpu_busy_ns "$s0" "$s1")" -v n="$sent" -v c=$((c1 - c0)) -v e=$((e1 - e0)) -v rx="$rx" \
    -v at="$attach" -v pb="$(cpu_busy_ns "$p0" "$p1")" -v trips="${trips:-0}" 'BEGIN {
      printf "%s %s %s %s %s %.0f %.0f %.0f %s %s %.0f\n", k, pp50, pp99, lp50, lp99,
             b / n, c / n, e / n, rx, at, (trips > 0 ? pb / trips : 0) }'
}

echo "service-mode.sh: DURATION=$DURATION s REPEAT=$REPEAT MSG=$MSG bytes RATE=$RATE/s" \
  "ATTACH=$ATTACH, servers: $SERVERS; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-5s %-10s %8s %8s %8s %8s %10s %10s %10s %10s %8s %8s %8s %10s\n" round server \
  pp_p50 pp_p99 ul_p50 ul_p99 busy_ns/dg charged_ns engine_ns rx_per_s first_us bind_us close_us \
  pp_busy_ns
for round in $(seq "$REPEAT"); do
  for kind in $SERVERS; do
    line=$(measure "$kind")
    echo "$round $line" >> "$work/results"
    # shellcheck disable=SC2086 # the fields are words
    printf "%-5s %-10s %8s %8s %8s %8s %10s %10s %10s %10s %8s %8s %8s %10s\n" "$round" $line
  done
done

median() {  # kind column
  awk -v k="$1" -v c="$2" '$2 == k {print $c}' "$work/results" | sort -g |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

echo
echo "medians over $REPEAT rounds (latency in us; per-datagram CPU in ns); load average now:" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
for kind in $SERVERS; do
  printf "%-5s %-10s" med "$kind"
  for col in $(seq 3 14); do printf " %8s" "$(median "$kind" "$col")"; done
  echo
done
if [[ " $SERVERS " == *" kernel "* ]]; then
  echo
  echo "ratios to the kernel (latency and CPU: lower is better, latency target <= 0.8;" \
    "throughput: higher is better)"
  for kind in $SERVERS; do
    [[ $kind == kernel ]] && continue
    printf "%-10s" "$kind"
    for pair in "pp_p50 3" "pp_p99 4" "ul_p50 5" "ul_p99 6" "busy/dg 7" "rx 10" "bind 12" \
      "close 13" "pp_busy 14"; do
      set -- $pair
      awk -v n="$1" -v a="$(median "$kind" "$2")" -v b="$(median kernel "$2")" \
        'BEGIN {printf "  %s %.2f", n, (b > 0 ? a / b : 0)}'
    done
    echo
  done
fi
