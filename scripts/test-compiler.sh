#!/usr/bin/env bash
# Builds a Release of lrp with one compiler, warnings as errors, in its own
# build directory, and runs the unit tests (the ones that need no root and
# no devices):
#   scripts/test-compiler.sh gcc|clang [CMAKE_BUILD_TYPE]
# BUILD_DIR defaults to build-COMPILER-TYPE (lower case).
set -euo pipefail
cd "$(dirname "$0")/.."
compiler=${1:?usage: scripts/test-compiler.sh gcc|clang [BUILD_TYPE]}
type=${2:-Release}
case $compiler in
  gcc) cc=gcc cxx=g++ ;;
  clang) cc=clang cxx=clang++ ;;
  *)
    echo "test-compiler: '$compiler' is not gcc or clang" >&2
    exit 2
    ;;
esac
build_dir=${BUILD_DIR:-build-$compiler-${type,,}}
start=$SECONDS
CC=$cc CXX=$cxx cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" \
  -DLRP_WERROR="${LRP_WERROR:-ON}" >/dev/null
cmake --build "$build_dir"
echo "test-compiler: $compiler $type build took $((SECONDS - start)) s"
start=$SECONDS
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 300 -LE 'privileged|lab|install'
echo "test-compiler: $compiler $type unit tests took $((SECONDS - start)) s"
