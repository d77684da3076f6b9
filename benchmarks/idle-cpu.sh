#!/usr/bin/env bash
# Engine CPU with no traffic: lrp-echo in each mode and threading, idle for
# DURATION seconds on a veth in a private namespace; prints % of one core.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BUILD_DIR:-build}/bin
duration=${DURATION:-10}
ns="lrpidle-$$" ifa="lis$$" ifb="lic$$"
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip -n "$ns" link add "$ifa" type veth peer name "$ifb"
ip -n "$ns" addr add 198.18.0.1/24 dev "$ifa"
ip -n "$ns" link set "$ifa" up
ip -n "$ns" link set "$ifb" up
ticks=$(getconf CLK_TCK)
printf "%-10s %-10s %10s\n" mode threading cpu_percent
for threading in rtc dedicated; do
  for mode in interrupt adaptive poll; do
    ip netns exec "$ns" "$bin/lrp-echo" --iface "$ifa" --port 9000 --mode "$mode" \
      --threading "$threading" --quiet &
    pid=$!
    sleep 2
    read -r -a s0 < "/proc/$pid/stat"
    sleep "$duration"
    read -r -a s1 < "/proc/$pid/stat"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    used=$(( (s1[13] + s1[14]) - (s0[13] + s0[14]) ))
    awk -v u="$used" -v t="$ticks" -v d="$duration" -v m="$mode" -v th="$threading" \
      'BEGIN { printf "%-10s %-10s %10.2f\n", m, th, 100 * u / t / d }'
  done
done
