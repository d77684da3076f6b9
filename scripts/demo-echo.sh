#!/usr/bin/env bash
# Echo demonstration on a veth pair between two private namespaces: lrp-echo
# and the same server on kernel sockets, each flooded from the peer namespace
# at rising rates. Prints offered vs echoed datagrams per second.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-3}
rates=${RATES:-"20000 50000 100000 200000 0"}
source benchmarks/bench-lib.sh
bench_setup

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
