#!/usr/bin/env bash
# The main job on a new machine: install, build, run the demonstration.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
scripts/demo-echo.sh
