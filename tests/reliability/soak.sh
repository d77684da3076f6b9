#!/usr/bin/env bash
# Soak: lrp-echo with application work per datagram (so its capacity is tens
# of kpps) under an open-loop flood at twice that capacity, for a while.
# Reports resident memory at start and end, frames by place and violations,
# drops by reason. Not part of CI (it runs for minutes).
#   tests/reliability/soak.sh [SECONDS=600] [WORK_NS=12000]
# RATE overrides the offered load (default: twice the capacity measured
# in a 10 s overload first, which other load on the machine can skew).
# Needs root; BUILD_DIR (default build) holds bin/lrp-echo and bin/lrp-flood.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
work_ns=${2:-12000}
source benchmarks/bench-lib.sh
bench_setup
port=9600
metrics=127.0.0.1:9464
scrape() { ip netns exec "$srv" curl -s "http://$metrics/metrics" | grep -E "^($1)" || true; }
nonzero() { awk '$NF != 0'; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$server_pid/status"; }

ip netns exec "$srv" "$bin/lrp-echo" --iface "$sif" --port "$port" --work-ns "$work_ns" \
  --threading dedicated --cpu 1 --metrics "$metrics" --quiet >/tmp/lrp-soak-echo.out 2>&1 &
server_pid=$!
sleep 2
# ip netns exec forks: the server is its child.
server_pid=$(pgrep -P "$server_pid" lrp-echo || echo "$server_pid")

# Capacity: what it serves under a 10 s overload.
delivered() { scrape lrp_datagrams_delivered_total | awk '{ s += $2 } END { print s + 0 }'; }
before=$(delivered)
ip netns exec "$cli" "$bin/lrp-flood" --dst 198.18.0.1 --port "$port" --rate 400000 \
  --duration 10 --count 4000000 --cpu 0 >/dev/null
capacity=$((($(delivered) - before) / 10))
rate=${RATE:-$((2 * capacity))}
echo "soak: capacity ${capacity} datagrams/s with --work-ns $work_ns; offering $rate/s for ${seconds}s"

rss_start=$(rss_kb)
start=$(date +%s)
ip netns exec "$cli" "$bin/lrp-flood" --dst 198.18.0.1 --port "$port" --rate "$rate" \
  --duration "$seconds" --count $((rate * seconds)) --cpu 0 | tail -n 2
sleep 2
rss_end=$(rss_kb)
echo "soak: ran $(($(date +%s) - start)) s; resident memory ${rss_start} kB at start, ${rss_end} kB at end"
echo "soak: frames by place (after the flood) and violations:"
scrape 'lrp_frames\{|lrp_frame_violations_total'
echo "soak: drops by reason and XDP verdicts (non-zero):"
scrape 'lrp_drops_total|lrp_xdp_shed_total|lrp_xdp_redirected_total|lrp_xdp_pass_total|lrp_datagrams_delivered_total' | nonzero
kill -INT "$server_pid" 2>/dev/null || true
sleep 1
cat /tmp/lrp-soak-echo.out
