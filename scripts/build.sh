#!/usr/bin/env bash
# Configures and builds lrp into build/ (or $BUILD_DIR) with any extra CMake
# arguments. LRP_WERROR=ON makes warnings errors (developers, CI); unset, the
# build directory keeps what it was configured with (off by default).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
werror=()
[[ -n ${LRP_WERROR:-} ]] && werror=(-DLRP_WERROR="$LRP_WERROR")
cmake -S . -B "$build_dir" -G Ninja "${werror[@]}" "$@" >/dev/null
cmake --build "$build_dir"
