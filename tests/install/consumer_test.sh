#!/usr/bin/env bash
# Installs the build into a temporary prefix and uses it as another project
# would: a program outside the tree built with find_package(lrp) (shared and
# static) and with pkg-config, then run. Also checks the installed programs,
# that the installed lrp-run finds the installed preload library, and the
# systemd unit of lrpd when the source has one.
#   consumer_test.sh BUILD_DIR PROJECT_SOURCE_DIR CXX
set -euo pipefail
build=$1 project=$2 cxx=$3
source=$project/tests/install/consumer
work=$(mktemp -d "${TMPDIR:-/tmp}/lrp-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "install test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log" >&2; fail "cmake --install failed"; }
libdir=$(dirname "$(find "$prefix" -name liblrp.so -print -quit)")
[[ $libdir != . ]] || fail "no liblrp.so under $prefix"
for f in "$prefix/bin/lrp-run" "$prefix/bin/lrp-echo" "$libdir/liblrp.a" \
  "$libdir/cmake/lrp/lrpConfig.cmake" "$libdir/pkgconfig/lrp.pc" \
  "$libdir/lrp/liblrp-preload.so" "$libdir/lrp/liblrp-preload-in-process.so" "$prefix/include/lrp/sockets/api/lrp_sockets.h"; do
  [[ -e $f ]] || fail "missing after install: ${f#"$prefix"/}"
done
if [[ -e $project/service/lrpd.service ]]; then
  [[ -e $prefix/lib/systemd/system/lrpd.service ]] || fail "missing: lib/systemd/system/lrpd.service"
  for f in bin/lrpd bin/lrpctl; do [[ -e $prefix/$f ]] || fail "missing after install: $f"; done
  ! grep -q '@[A-Z_]*@' "$prefix/lib/systemd/system/lrpd.service" ||
    fail "lrpd.service has unreplaced @VARIABLES@"
fi

echo "install test: find_package(lrp)"
cmake -S "$source" -B "$work/cmake" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log" ||
  { cat "$work/configure.log" >&2; fail "configuring the consumer failed"; }
cmake --build "$work/cmake"
"$work/cmake/consumer"
"$work/cmake/consumer_static"

echo "install test: pkg-config lrp"
export PKG_CONFIG_PATH=$libdir/pkgconfig
# shellcheck disable=SC2046 # the flags are words
"$cxx" -std=c++20 -o "$work/consumer_pc" "$source/consumer.cpp" $(pkg-config --cflags --libs lrp) \
  -Wl,-rpath,"$libdir"
"$work/consumer_pc"

# The installed launcher finds the installed library, not the build tree's.
if [[ $(id -u) -eq 0 ]]; then
  # shellcheck disable=SC2016 # the shell under lrp-run expands it
  out=$("$prefix/bin/lrp-run" --in-process --iface lo -- sh -c 'echo "$LD_PRELOAD"')
  [[ $out == "$(realpath "$libdir/lrp/liblrp-preload-in-process.so")"* ]] ||
    fail "installed lrp-run preloads '$out', not $libdir/lrp/liblrp-preload-in-process.so"
  echo "install test: lrp-run preloads ${out%%:*}"
fi
echo "install test: passed"
