#!/usr/bin/env bash
# lrp-echo on a veth with QUEUES receive queues against the same on one
# queue, in the same run: echo rate at the generator's maximum (one lrp-flood
# per CPU, so a multi-queue veth spreads the load over its queues), what
# each queue's engine delivered, and sockperf under-load p50/p99 at a paced
# rate. On a 2-core machine the generators share the cores with the server,
# so the rate is not a scaling figure: the per-queue counts show that every
# queue is served, and the rate that a second queue costs nothing.
#
#   BUILD_DIR=build DURATION=5 REPEAT=3 QUEUES=2 MPS=20000 benchmarks/multi-queue.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/bench-lib.sh
DURATION=${DURATION:-5}
REPEAT=${REPEAT:-1}
QUEUES=${QUEUES:-2}
MPS=${MPS:-20000}
metrics=127.0.0.1:9478
for b in lrp-echo lrp-flood; do
  [[ -x $bin/$b ]] || { echo "multi-queue.sh: $bin/$b not built" >&2; exit 1; }
done
command -v sockperf >/dev/null || { echo "multi-queue.sh: sockperf not installed" >&2; exit 1; }
work=$(mktemp -d)
trap 'bench_cleanup; rm -rf "$work"' EXIT INT TERM

start_server() {  # reply rule, seconds
  ip netns exec "$srv" "$bin/lrp-echo" --iface "$sif" --port 9000 --reply "$1" --duration "$2" \
    --metrics "$metrics" --quiet > "$work/server.log" 2>&1 &
  server_pid=$!
  sleep 1.5
}

stop_server() {
  kill -INT "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# Delivered datagrams per queue, "q0=N q1=M", from the server's metrics.
per_queue() {
  ip netns exec "$srv" python3 - "$metrics" <<'PY'
import re, sys, urllib.request
text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics", timeout=5).read().decode()
by_queue = {}
for m in re.finditer(r'^lrp_datagrams_delivered_total\{([^}]*)\} (\S+)$', text, re.M):
    q = re.search(r'queue="(\d+)"', m.group(1)).group(1)
    by_queue[q] = by_queue.get(q, 0) + float(m.group(2))
print(" ".join(f"q{q}={int(v)}" for q, v in sorted(by_queue.items())))
PY
}

rate_run() {  # queues
  start_server echo $((DURATION + 6))
  local floods=() counts replies
  for cpu in 0 1; do
    ip netns exec "$cli" "$bin/lrp-flood" --dst 198.18.0.1 --port 9000 --cpu "$cpu" --rate 0 \
      --duration "$DURATION" --count 1000000000 > "$work/flood$cpu" &
    floods+=($!)
  done
  wait "${floods[@]}"
  counts=$(per_queue)
  stop_server
  replies=$(cat "$work/flood0" "$work/flood1" | sed -n 's/.*reply_pps=\([0-9]*\).*/\1/p' |
    awk '{s += $1} END {print s + 0}')
  echo "$1 $replies $counts" >> "$work/rate"
}

latency_run() {  # queues
  start_server sockperf $((DURATION + 6))
  ip netns exec "$cli" taskset -c 0 sockperf under-load -i 198.18.0.1 -p 9000 -t "$DURATION" \
    -m 64 --mps "$MPS" > "$work/sockperf.log" 2>&1 || true
  stop_server
  awk -v q="$1" '/percentile 50.000/ {p50 = $6} /percentile 99.000/ {p99 = $6}
    END {printf "%s %s %s\n", q, (p50 == "" ? "-" : p50), (p99 == "" ? "-" : p99)}' \
    "$work/sockperf.log" >> "$work/latency"
}

echo "multi-queue.sh: DURATION=$DURATION s REPEAT=$REPEAT QUEUES=$QUEUES MPS=$MPS" \
  "BUILD_DIR=${BUILD_DIR:-build}; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$REPEAT"); do
  for q in 1 "$QUEUES"; do
    bench_setup "$q"
    rate_run "$q"
    latency_run "$q"
    bench_cleanup
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

median() {  # file queues column
  awk -v q="$2" -v c="$3" '$1 == q && $c != "-" {print $c}' "$1" | sort -g |
    awk '{v[NR] = $1} END {print (NR == 0 ? "-" : (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2))}'
}

echo
printf "%-7s %11s %9s %8s %8s  %s\n" queues echo_pps vs_1q p50_us p99_us "delivered by queue (last round)"
base=$(median "$work/rate" 1 2)
for q in 1 "$QUEUES"; do
  rate=$(median "$work/rate" "$q" 2)
  printf "%-7s %11s %9s %8s %8s  %s\n" "$q" "$rate" \
    "$(awk -v a="$rate" -v b="$base" 'BEGIN {printf (b > 0 ? "%.2f" : "-"), a / b}')" \
    "$(median "$work/latency" "$q" 2)" "$(median "$work/latency" "$q" 3)" \
    "$(awk -v q="$q" '$1 == q {$1 = ""; $2 = ""; last = $0} END {print last}' "$work/rate")"
done
