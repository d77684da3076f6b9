#!/usr/bin/env bash
# Fails when a C, C++ or BPF source is not clang-formatted (each folder's
# .clang-format applies: kernel style in bpf/, the project style elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.cpp' '*.h')
clang-format --dry-run -Werror "${files[@]}"
