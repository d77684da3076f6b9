#!/usr/bin/env bash
# Echo demonstration on a veth pair between two private namespaces: lrp-echo
# and the same server on kernel sockets, each flooded from the peer namespace
# at rising rates. Prints offered vs echoed datagrams per second.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BUILD_DIR:-build}/bin
duration=${DURATION:-3}
rates=${RATES:-"20000 50000 100000 200000 0"}
id=$$
srv="lrpdemo-$id-s" cli="lrpdemo-$id-c" sif="lds$id" cif="ldc$id"
cleanup() {
  [[ -n ${server_pid:-} ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
ip netns add "$srv"
ip netns add "$cli"
ip -n "$srv" link add "$sif" numtxqueues 1 numrxqueues 1 type veth peer name "$cif" \
  netns "$cli" numtxqueues 1 numrxqueues 1
ip -n "$srv" addr add 198.18.0.1/24 dev "$sif"
ip -n "$cli" addr add 198.18.0.2/24 dev "$cif"
ip netns exec "$cli" ethtool -K "$cif" tx off >/dev/null
ip netns exec "$srv" ethtool -K "$sif" tx off >/dev/null
ip -n "$srv" link set "$sif" up
ip -n "$cli" link set "$cif" up
ip -n "$srv" link set lo up
ip -n "$cli" link set lo up

run_server() {  # $1: lrp | kernel
  if [[ $1 == lrp ]]; then
    ip netns exec "$srv" "$bin/lrp-echo" --iface "$sif" --port 9000 --cpu 1 --quiet &
  else
    ip netns exec "$srv" "$bin/kernel-echo" --port 9000 --cpu 1 --quiet &
  fi
  server_pid=$!
  sleep 1
}

printf "%-8s %12s %12s %12s\n" server offered_pps sent_pps echoed_pps
for server in kernel lrp; do
  run_server "$server"
  for rate in $rates; do
    out=$(ip netns exec "$cli" "$bin/lrp-flood" --dst 198.18.0.1 --port 9000 --rate "$rate" \
      --duration "$duration" --count 100000000 --cpu 0)
    sent=$(sed -n 's/.*sent_pps=\([0-9]*\).*/\1/p' <<<"$out")
    echoed=$(sed -n 's/.*reply_pps=\([0-9]*\).*/\1/p' <<<"$out")
    printf "%-8s %12s %12s %12s\n" "$server" "$([[ $rate == 0 ]] && echo max || echo "$rate")" \
      "$sent" "$echoed"
  done
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
done
