#!/usr/bin/env bash
# Sanitizer builds, one build directory per configuration, built once, then
# tested:
#   address,undefined  the whole suite but the experiments (ctest -LE lab), in build-asan/
#   thread             the threaded parts (scheduler, engine, exporters and
#                      the reliability tests that run them), in build-tsan/
# A report fails the run (-fno-sanitize-recover, halt_on_error). Choose with
# SANITIZERS="asan tsan" (default both). Needs root for the privileged tests.
# Warnings are errors unless LRP_WERROR=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
configs=(${SANITIZERS:-asan tsan})
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# The threaded parts: test executables whose code runs on several threads.
tsan_targets=(scheduler_test engine_test frame_pool_test exporter_format_test exporter_live_test
  reliability_frames_test reliability_malformed_test)

# GCC 12 reports -Wmaybe-uninitialized inside libstdc++'s std::regex and
# std::function when built with -fsanitize=address at -O2 (a known false
# positive, GCC PR 105562): keep it a warning in these builds only.
configure() {  # dir sanitizers
  cmake -S . -B "$1" -G Ninja -DLRP_SANITIZE="$2" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLRP_WERROR="${LRP_WERROR:-ON}" -DCMAKE_CXX_FLAGS=-Wno-error=maybe-uninitialized >/dev/null
}

for config in "${configs[@]}"; do
  start=$SECONDS
  case $config in
    asan)
      configure build-asan address,undefined
      cmake --build build-asan
      echo "sanitizers: asan+ubsan build took $((SECONDS - start)) s"
      start=$SECONDS
      # The experiments' quick runs (label lab) are left to the plain build:
      # they take minutes each and check output, not memory.
      ctest --test-dir build-asan --output-on-failure -j2 --timeout 600 -LE lab
      echo "sanitizers: asan+ubsan tests took $((SECONDS - start)) s"
      ;;
    tsan)
      configure build-tsan thread
      cmake --build build-tsan --target "${tsan_targets[@]}"
      echo "sanitizers: tsan build took $((SECONDS - start)) s"
      start=$SECONDS
      # One at a time: the scheduler tests measure isolation and must not share the CPUs.
      for t in "${tsan_targets[@]}"; do
        echo "sanitizers: tsan $t"
        "build-tsan/bin/$t" --gtest_brief=1
      done
      echo "sanitizers: tsan tests took $((SECONDS - start)) s"
      ;;
    *)
      echo "test-sanitizers: unknown configuration '$config' (asan, tsan)" >&2
      exit 2
      ;;
  esac
done
