#!/usr/bin/env bash
# On/off load: bursts separated by idle gaps. Per engine mode: mode switches
# per second and the echo latency of the first packet after each idle gap.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/bench-lib.sh
rounds=${ROUNDS:-100} gap=${GAP_MS:-20} burst=${BURST:-2000}
bench_setup
printf "%-9s %-9s %10s %10s %10s %10s %12s\n" mode threading rounds p50_us p99_us max_us \
  switches_per_s
for threading in rtc dedicated; do
  for mode in adaptive poll interrupt; do
    out=$(mktemp)
    ip netns exec "$srv" "$bin/lrp-echo" --iface "$sif" --port 9000 --mode "$mode" \
      --threading "$threading" --cpu 1 --quiet >"$out" &
    server_pid=$!
    sleep 1
    start=$(date +%s.%N)
    res=$(ip netns exec "$cli" "$bin/lrp-onoff" --dst 198.18.0.1 --port 9000 --rounds "$rounds" \
      --gap-ms "$gap" --burst "$burst" --cpu 0)
    end=$(date +%s.%N)
    kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=
    get() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
    summary=$(cat "$out"); rm -f "$out"
    switches=$(( $(get switches_to_poll "$summary") + $(get switches_to_interrupt "$summary") ))
    awk -v m="$mode" -v t="$threading" -v r="$rounds" -v p50="$(get first_rtt_p50_us "$res")" \
      -v p99="$(get first_rtt_p99_us "$res")" -v mx="$(get first_rtt_max_us "$res")" \
      -v s="$switches" -v d="$(echo "$end - $start" | bc)" \
      'BEGIN { printf "%-9s %-9s %10d %10.1f %10.1f %10.1f %12.1f\n", m, t, r, p50, p99, mx, s / d }'
  done
done
