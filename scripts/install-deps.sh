#!/usr/bin/env bash
# Installs the Debian packages lrp needs to build, test and run its experiments.
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
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: run as root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's prometheus package starts a server on all addresses where systemd
# runs; lrp's tests start their own on loopback only.
if command -v systemctl >/dev/null && systemctl is-enabled prometheus >/dev/null 2>&1; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
