# Shared by the benchmark scripts: a veth pair between two private
# namespaces, addressed from 198.18.0.0/15, removed on exit.
bin=${BUILD_DIR:-build}/bin
srv="lrpb-$$-s" cli="lrpb-$$-c" sif="lbs$$" cif="lbc$$"
bench_cleanup() {
  [[ -n ${server_pid:-} ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
}
trap bench_cleanup EXIT INT TERM
bench_setup() {  # [queues], default 1
  local q=${1:-1}
  ip netns add "$srv"
  ip netns add "$cli"
  ip -n "$srv" link add "$sif" numtxqueues "$q" numrxqueues "$q" type veth peer name "$cif" \
    netns "$cli" numtxqueues "$q" numrxqueues "$q"
  ip -n "$srv" addr add 198.18.0.1/24 dev "$sif"
  ip -n "$cli" addr add 198.18.0.2/24 dev "$cif"
  for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
  ip -n "$srv" link set "$sif" up
  ip -n "$cli" link set "$cif" up
}
# Receive processing of the server's veth on CPU 1, at softirq priority.
bench_rps_to_cpu1() {
  ip netns exec "$srv" sh -c "echo 2 > /sys/class/net/$sif/queues/rx-0/rps_cpus"
}
# Busy time of one CPU is counted as the time it was not idle. /proc/stat's
# idle time is exact on a tickless kernel; its busy fields are sampled at
# clock ticks, and on a virtual machine they were off by up to ten times in
# either direction when a server woke many times per tick.
hz=$(getconf CLK_TCK)
# A sample for cpu_busy_ns: the CPU's idle and iowait time so far and the
# time now, both in ns.
cpu_sample() {
  awk -v c="cpu$1" -v hz="$hz" -v now="$(date +%s%N)" \
    '$1 == c { printf "%.0f %s\n", ($5 + $6) * 1e9 / hz, now }' /proc/stat
}
# The wall-clock ns between two samples: sample_wall_ns "$s0" "$s1".
sample_wall_ns() { echo $((${2#* } - ${1#* })); }
# The CPU's busy ns between two samples: cpu_busy_ns "$s0" "$s1".
cpu_busy_ns() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
    busy = (y[2] - x[2]) - (y[1] - x[1]); printf "%.0f\n", (busy > 0 ? busy : 0) }'
}
