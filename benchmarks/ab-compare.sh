#!/usr/bin/env bash
# Two builds of lrp in one run, alternating round by round (and which goes
# first) so that the machine's load drifts over both alike: sockperf through
# lrp-run in adaptive mode (benchmarks/sockperf.sh: ping-pong latency and
# the rate the server received under sockperf's throughput client) and the
# echo rates of scripts/demo-echo.sh (lrp-echo flooded by lrp-flood). Prints
# every round with the load average, then the medians per build.
#   A=/tmp/base/build B=build ROUNDS=3 DURATION=3 RATES="50000 0" benchmarks/ab-compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
A=${A:?A=build dir of the first build}
B=${B:-build}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
RATES=${RATES:-"50000 0"}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

load() { cut -d' ' -f1 /proc/loadavg; }

measure() {  # label build_dir round
  local label=$1 dir=$2 round=$3 l
  l=$(load)
  SERVERS=lrp-adaptive REPEAT=1 DURATION=$DURATION BUILD_DIR=$dir benchmarks/sockperf.sh |
    awk -v b="$label" -v r="$round" -v l="$l" \
      '$1 == "lrp-adaptive" && NF == 6 {print r, b, "sockperf_p50_us", $2, l;
                                      print r, b, "sockperf_p99_us", $3, l;
                                      print r, b, "sockperf_rx_per_s", $5, l}' | tee -a "$out"
  l=$(load)
  RATES=$RATES DURATION=$DURATION BUILD_DIR=$dir scripts/demo-echo.sh |
    awk -v b="$label" -v r="$round" -v l="$l" \
      '$1 == "lrp" {print r, b, "echo_at_" $2 "_echoed_per_s", $4, l}' | tee -a "$out"
}

echo "round build metric value load1"
for round in $(seq "$ROUNDS"); do
  if ((round % 2)); then order="A B"; else order="B A"; fi
  for which in $order; do
    if [[ $which == A ]]; then measure A "$A" "$round"; else measure B "$B" "$round"; fi
  done
done

echo
echo "medians (A=$A, B=$B)"
printf "%-32s %12s %12s %8s\n" metric A B B/A
for metric in $(awk '{print $3}' "$out" | sort -u); do
  a=$(awk -v m="$metric" '$2 == "A" && $3 == m {print $4}' "$out" | sort -g |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
  b=$(awk -v m="$metric" '$2 == "B" && $3 == m {print $4}' "$out" | sort -g |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
  printf "%-32s %12s %12s %8s\n" "$metric" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {if (a > 0) printf "%.2f", b / a}')"
done
