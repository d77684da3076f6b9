#!/usr/bin/env bash
# Installs the Debian packages lrp needs to build, test and run its experiments
# (as root, or through sudo when run by another user).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config clang clang-format llvm
  libbpf-dev libxdp-dev xdp-tools bpftool libelf-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev prometheus-cpp-dev nlohmann-json3-dev
  prometheus chromium
  iproute2 ethtool sockperf netsniff-ng iperf3
  python3 python3-matplotlib libclang-rt-14-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  # shellcheck source=scripts/as-root.sh
  source "$(dirname "$0")/as-root.sh"
  echo "install-deps: installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's prometheus package starts a server on all addresses where systemd
# runs; lrp's tests start their own on loopback only.
if command -v systemctl >/dev/null && systemctl is-enabled prometheus >/dev/null 2>&1; then
  # shellcheck source=scripts/as-root.sh
  source "$(dirname "$0")/as-root.sh"
  as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
