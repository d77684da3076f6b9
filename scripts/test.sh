#!/usr/bin/env bash
# Builds lrp and runs its whole test suite. Privileged tests (namespaces, XDP,
# AF_XDP) need root; under CI=true they fail instead of skipping without it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${CI:-} == true && $(id -u) -ne 0 ]]; then
  echo "test: CI must run as root: the privileged tests need namespaces and XDP" >&2
  exit 1
fi
scripts/install-deps.sh
build_dir=${BUILD_DIR:-build}
scripts/build.sh "$@"
# Namespaces per test make the privileged tests safe to run side by side.
ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 600
