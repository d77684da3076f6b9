#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (address + undefined sanitizers) and
# runs each for a bounded time, starting from the committed seed corpus.
#   FUZZ_SECONDS  time per target (default 45)
#   FUZZ_TARGETS  which targets (default: xdp_diff udp_parse checksum)
#   FUZZ_BUILD_DIR (default build-fuzz)
# New inputs go to $FUZZ_BUILD_DIR/corpus/, crashes to $FUZZ_BUILD_DIR/crashes/;
# copy a crash into tests/fuzz/corpus/<target>/ once it is fixed, so the
# corpus test keeps replaying it. fuzz_xdp_diff needs root (BPF_PROG_TEST_RUN).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-45}
targets=(${FUZZ_TARGETS:-xdp_diff udp_parse checksum})
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DLRP_FUZZ=ON -DLRP_WERROR="${LRP_WERROR:-ON}" \
  -DLRP_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
cmake --build "$build_dir" --target fuzzers
status=0
for t in "${targets[@]}"; do
  work="$build_dir/corpus/$t"
  crashes="$build_dir/crashes/$t/"
  mkdir -p "$work" "$crashes"
  echo "fuzz: $t for ${seconds}s"
  if ! "$build_dir/bin/fuzz_$t" -max_total_time="$seconds" -max_len=3100 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes" \
    "$work" "tests/fuzz/corpus/$t" 2>"$build_dir/fuzz-$t.log"; then
    echo "fuzz: $t FAILED; see $build_dir/fuzz-$t.log and $crashes" >&2
    tail -n 30 "$build_dir/fuzz-$t.log" >&2
    status=1
  else
    grep -E '^stat::(number_of_executed_units|new_units_added)' "$build_dir/fuzz-$t.log" |
      sed "s/^/fuzz: $t /"
  fi
done
exit $status
