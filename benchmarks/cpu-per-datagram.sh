#!/usr/bin/env bash
# What an echo server costs the core it runs on, per datagram, and what its
# clients see: lrp adaptive (run to completion and dedicated) against the
# kernel's sockets and lrp poll, in the same run, at paced loads and at the
# most the generator offers. Not a timed test: run it on a quiet machine.
#
# Two runs per server and rate, server on CPU 1, load from CPU 0:
#   cpu:     lrp-flood paces datagrams (64-byte frames) and every one is
#            echoed, for DURATION seconds. Busy time of CPU 1 per datagram
#            the server received, two ways:
#              core_ns:   CPU 1's busy time (the time /proc/stat does not
#                         count as idle), what an operator pays for the core,
#                         including interrupts, and anything else that ran on
#                         it (so on a loaded machine it counts others' work);
#              server_ns: the server's threads' run time (schedstat): the
#                         part of core_ns that is the server's own, without
#                         interrupts and without others' work on a busy
#                         machine.
#   latency: sockperf under-load at the same rate (the server answers as a
#            sockperf server would: one reply per 100 messages); its p50 and
#            p99 round trip.
# The replies' receive processing on the client side goes to CPU 0 (RPS on
# the client's veth): on a real network it runs on the client's machine, and
# on veth it would otherwise land on the server's core and be counted as the
# server's.
#
# Veth offloads stay at their defaults (a kernel sender leaves partial
# checksums); OFFLOADS=tx-off turns the client's transmit checksum offload
# off instead, for builds whose lrp still rejects partial checksums.
# PRIO=fifo runs the servers and the load generators at SCHED_FIFO, so other
# work on a shared machine delays them less (core_ns still counts that work;
# server_ns does not).
#
#   BUILD_DIR=build-rel DURATION=5 REPEAT=3 benchmarks/cpu-per-datagram.sh
#   RATES="10000 50000 150000 max" SERVERS="kernel lrp-adaptive-rtc ..." also.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/bench-lib.sh
DURATION=${DURATION:-5}
REPEAT=${REPEAT:-1}
RATES=${RATES:-"10000 50000 150000 max"}
SERVERS=${SERVERS:-"kernel lrp-adaptive-rtc lrp-adaptive-dedicated lrp-poll-rtc"}
OFFLOADS=${OFFLOADS:-default}
PRIO=${PRIO:-normal}
prio=()
[[ $PRIO == fifo ]] && prio=(chrt -f 20)
for b in lrp-echo kernel-echo lrp-flood; do
  [[ -x $bin/$b ]] || { echo "cpu-per-datagram.sh: $bin/$b not built" >&2; exit 1; }
done
command -v sockperf >/dev/null || { echo "cpu-per-datagram.sh: sockperf not installed" >&2; exit 1; }
work=$(mktemp -d)
trap 'bench_cleanup; rm -rf "$work"' EXIT INT TERM

ip netns add "$srv"
ip netns add "$cli"
ip -n "$srv" link add "$sif" numtxqueues 1 numrxqueues 1 type veth peer name "$cif" \
  netns "$cli" numtxqueues 1 numrxqueues 1
ip -n "$srv" addr add 198.18.0.1/24 dev "$sif"
ip -n "$cli" addr add 198.18.0.2/24 dev "$cif"
[[ $OFFLOADS == tx-off ]] && ip netns exec "$cli" ethtool -K "$cif" tx off >/dev/null
for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$srv" link set "$sif" up
ip -n "$cli" link set "$cif" up
ip netns exec "$cli" sh -c "echo 1 > /sys/class/net/$cif/queues/rx-0/rps_cpus"

start_server() {  # kind, reply rule, seconds
  local cmd
  case $1 in
    kernel) cmd=("$bin/kernel-echo") ;;
    lrp-adaptive-rtc) cmd=("$bin/lrp-echo" --iface "$sif" --mode adaptive --threading rtc) ;;
    lrp-adaptive-dedicated)
      cmd=("$bin/lrp-echo" --iface "$sif" --mode adaptive --threading dedicated) ;;
    lrp-poll-rtc) cmd=("$bin/lrp-echo" --iface "$sif" --mode poll --threading rtc) ;;
    lrp-interrupt-rtc) cmd=("$bin/lrp-echo" --iface "$sif" --mode interrupt --threading rtc) ;;
    *) echo "cpu-per-datagram.sh: unknown server $1" >&2; exit 2 ;;
  esac
  ip netns exec "$srv" "${prio[@]}" "${cmd[@]}" --port 9000 --cpu 1 --reply "$2" --duration "$3" --quiet \
    > "$work/server.log" 2>&1 &
  server_pid=$!
  sleep 1.5
}

stop_server() {
  kill -INT "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# Run time of all the server's threads, ns.
server_run_ns() {
  cat /proc/"$server_pid"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d", s}'
}

rate_arg() { [[ $1 == max ]] && echo 0 || echo "$1"; }

cpu_run() {  # kind rate
  start_server "$1" echo $((DURATION + 4))
  local r0 s0 r1 s1 out
  r0=$(server_run_ns); s0=$(cpu_sample 1)
  out=$(ip netns exec "$cli" "${prio[@]}" "$bin/lrp-flood" --dst 198.18.0.1 --port 9000 --cpu 0 \
    --rate "$(rate_arg "$2")" --duration "$DURATION" --count 1000000000)
  r1=$(server_run_ns); s1=$(cpu_sample 1)
  stop_server
  local received sent replies invalid
  received=$(sed -n 's/.*received=\([0-9]*\).*/\1/p' "$work/server.log" | tail -1)
  invalid=$(sed -n 's/.* invalid=\([0-9]*\).*/\1/p' "$work/server.log" | tail -1)
  sent=$(sed -n 's/.*sent_pps=\([0-9]*\).*/\1/p' <<<"$out")
  replies=$(sed -n 's/.*reply_pps=\([0-9]*\).*/\1/p' <<<"$out")
  if [[ ${received:-0} -eq 0 ]]; then
    echo "cpu-per-datagram.sh: $1 received nothing (invalid=${invalid:-?}); with OFFLOADS=default" \
      "this lrp may be rejecting partial checksums" >&2
  fi
  awk -v k="$1" -v r="$2" -v d="$DURATION" -v n="${received:-0}" -v s="$sent" -v rp="$replies" \
    -v busy="$(cpu_busy_ns "$s0" "$s1")" -v run=$((r1 - r0)) \
    -v wall="$(sample_wall_ns "$s0" "$s1")" 'BEGIN {
      core = busy; server = run
      printf "%s %s %d %.0f %.0f %.1f %.0f %.0f\n", k, r, s, n / d, rp, 100 * core / wall,
        (n > 0 ? core / n : 0), (n > 0 ? server / n : 0) }' >> "$work/cpu"
}

latency_run() {  # kind rate
  start_server "$1" sockperf $((DURATION + 4))
  local mps=$2
  ip netns exec "$cli" "${prio[@]}" taskset -c 0 sockperf under-load -i 198.18.0.1 -p 9000 -t "$DURATION" \
    -m 64 --mps "$mps" > "$work/sockperf.log" 2>&1 || true
  stop_server
  awk -v k="$1" -v r="$2" '/percentile 50.000/ {p50 = $6} /percentile 99.000/ {p99 = $6}
    END {printf "%s %s %s %s\n", k, r, (p50 == "" ? "-" : p50), (p99 == "" ? "-" : p99)}' \
    "$work/sockperf.log" >> "$work/latency"
}

echo "cpu-per-datagram.sh: DURATION=$DURATION s REPEAT=$REPEAT OFFLOADS=$OFFLOADS PRIO=$PRIO" \
  "BUILD_DIR=${BUILD_DIR:-build}; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$REPEAT"); do
  for rate in $RATES; do
    for kind in $SERVERS; do
      cpu_run "$kind" "$rate"
      latency_run "$kind" "$rate"
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

median() {  # file kind rate column
  awk -v k="$2" -v r="$3" -v c="$4" '$1 == k && $2 == r && $c != "-" {print $c}' "$1" | sort -g |
    awk '{v[NR] = $1} END {print (NR == 0 ? "-" : (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2))}'
}

echo
printf "%-24s %7s %9s %9s %7s %9s %9s %8s %8s %9s\n" server rate sent_pps rx_pps cpu1_% \
  core_ns server_ns p50_us p99_us vs_kernel
for rate in $RATES; do
  k_core=$(median "$work/cpu" kernel "$rate" 7)
  for kind in $SERVERS; do
    core=$(median "$work/cpu" "$kind" "$rate" 7)
    ratio=$(awk -v a="$core" -v b="$k_core" 'BEGIN {print (b > 0 && a != "-" ? sprintf("%.2f", a / b) : "-")}')
    printf "%-24s %7s %9s %9s %7s %9s %9s %8s %8s %9s\n" "$kind" "$rate" \
      "$(median "$work/cpu" "$kind" "$rate" 3)" "$(median "$work/cpu" "$kind" "$rate" 4)" \
      "$(median "$work/cpu" "$kind" "$rate" 6)" "$core" "$(median "$work/cpu" "$kind" "$rate" 8)" \
      "$(median "$work/latency" "$kind" "$rate" 3)" "$(median "$work/latency" "$kind" "$rate" 4)" \
      "$ratio"
  done
done
echo
echo "core_ns: CPU 1 busy (not idle in /proc/stat) per datagram received; server_ns: the server's"
echo "threads' run time per datagram; vs_kernel: core_ns over kernel-echo's at that rate."
