#!/usr/bin/env bash
# Receive cost per packet on the server core. The server runs on CPU 1 and
# only receives (--sink); the generator floods from CPU 0. Two placements:
#   native: native XDP, so the veth's receive work (the demultiplexing and,
#           for the kernel, the UDP input) runs on the sending core, like an
#           interface that demultiplexes (NI-LRP);
#   rps:    receive processing steered to CPU 1 with RPS, lrp in generic XDP,
#           so it runs on the server's core at softirq priority (SOFT-LRP).
# Cost per packet = CPU 1 busy time / datagrams the server received. In poll
# mode the core is busy by design, so lrp also reports its charged protocol
# CPU per datagram (its visits' time, capped by the thread's CPU time).
# REPEAT rounds run the servers in turn, so drift on a noisy machine hits
# them alike; the last lines give the medians and lrp's ratio to the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/bench-lib.sh
duration=${DURATION:-5}
rate=${RATE:-0}
repeat=${REPEAT:-3}
placement=${PLACEMENT:-native}
bench_setup
xdp_mode=()
if [[ $placement == rps ]]; then
  bench_rps_to_cpu1
  xdp_mode=(--generic)
fi
echo "placement: $placement"
printf "%-16s %12s %12s %12s %14s %16s\n" server offered_pps received_pps cpu1_busy_pct \
  ns_per_packet charged_ns_per_pkt
run() {  # name, command...
  local name=$1; shift
  local out; out=$(mktemp)
  ip netns exec "$srv" "$@" >"$out" &
  server_pid=$!
  sleep 1
  local s0; s0=$(cpu_sample 1)
  local res; res=$(ip netns exec "$cli" "$bin/lrp-flood" --dst 198.18.0.1 --port 9000 \
    --rate "$rate" --duration "$duration" --count 1000000000 --cpu 0)
  local s1; s1=$(cpu_sample 1)
  kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=
  local received; received=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' "$out")
  local charged; charged=$(sed -n 's/.*charged_ns=\([0-9]*\).*/\1/p' "$out"); rm -f "$out"
  local sent; sent=$(sed -n 's/.*sent_pps=\([0-9]*\).*/\1/p' <<<"$res")
  awk -v n="$name" -v s="$sent" -v r="$received" -v d="$duration" -v w="$(sample_wall_ns "$s0" "$s1")" \
    -v b="$(cpu_busy_ns "$s0" "$s1")" -v c="${charged:-0}" \
    'BEGIN { printf "%-16s %12d %12.0f %12.1f %14.0f %16s\n", n, s, r / d,
             100 * b / w, (r > 0 ? b / r : 0),
             (c > 0 && r > 0 ? sprintf("%.0f", c / r) : "-") }' | tee -a "$results"
}
results=$(mktemp)
for ((round = 1; round <= repeat; round++)); do
  run kernel "$bin/kernel-echo" --port 9000 --cpu 1 --sink --duration $((duration + 5)) --quiet
  run lrp-poll "$bin/lrp-echo" --iface "$sif" --port 9000 --mode poll "${xdp_mode[@]}" --cpu 1 \
    --sink --duration $((duration + 5)) --quiet
  run lrp-adaptive "$bin/lrp-echo" --iface "$sif" --port 9000 --mode adaptive "${xdp_mode[@]}" \
    --cpu 1 --sink --duration $((duration + 5)) --quiet
done
# Medians over the rounds: the kernel's busy ns per packet, lrp's charged.
median() {  # server, column
  awk -v n="$1" -v c="$2" '$1 == n && $c != "-" { print $c }' "$results" | sort -n |
    awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'
}
kernel=$(median kernel 5)
for server in lrp-poll lrp-adaptive; do
  charged=$(median "$server" 6)
  awk -v s="$server" -v c="$charged" -v k="$kernel" 'BEGIN {
    printf "median %-12s charged %5.0f ns/pkt  kernel busy %5.0f ns/pkt  ratio %.2f\n", s, c, k,
      (k > 0 ? c / k : 0) }'
done
rm -f "$results"
