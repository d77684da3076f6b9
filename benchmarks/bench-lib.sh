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
# Busy jiffies of one CPU (everything but idle and iowait).
cpu_busy_jiffies() {
  awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}
