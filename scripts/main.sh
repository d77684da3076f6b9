#!/usr/bin/env bash
# The main job on a new machine: install, build, and run the receive-livelock
# experiment (lrp-lab livelock: delivered against offered load for every
# server configuration in both placements, the BSD-order baselines beside
# lrp; about 15 minutes), then say where its plot and summary are. Run it as root;
# as another user, the steps that need root (packages, the experiment) go
# through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/as-root.sh
scripts/install-deps.sh
scripts/build.sh
build_dir=${BUILD_DIR:-build}
out=$(realpath -m "${OUT:-$build_dir/lab-results/livelock}")
as_root "$build_dir/bin/lrp-lab" livelock --out "$out"
echo "main: plot: $out/livelock.png"
echo "main: summary: $out/summary.md (every step: $out/results.csv)"
