#!/usr/bin/env bash
# Configures and builds lrp into build/ (or $BUILD_DIR) with any extra CMake arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja "$@" >/dev/null
cmake --build "$build_dir"
