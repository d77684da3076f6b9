#!/usr/bin/env bash
# The main job on a new machine: install, build, and run the receive-livelock
# experiment (lrp-lab livelock: every server configuration in both placements,
# about 9 minutes), then say where its plot and summary are.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build_dir=${BUILD_DIR:-build}
out=$(realpath -m "${OUT:-$build_dir/lab-results/livelock}")
"$build_dir/bin/lrp-lab" livelock --out "$out"
echo "main: plot: $out/livelock.png"
echo "main: summary: $out/summary.md (every step: $out/results.csv)"
