#!/usr/bin/env bash
# Verifies that this machine can create a namespace with a veth pair and
# attach XDP to it; prints the reason and fails otherwise.
set -uo pipefail
ns="lrp-check-$$"
cleanup() { ip netns del "$ns" 2>/dev/null; }
trap cleanup EXIT
fail() { echo "check-privileges: $1" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || fail "not root: namespaces, XDP and AF_XDP need root"
ip netns add "$ns" || fail "cannot create a network namespace"
ip -n "$ns" link add lrpchk0 type veth peer name lrpchk1 || fail "cannot create a veth pair"
ip -n "$ns" link set lrpchk0 up && ip -n "$ns" link set lrpchk1 up
features=$(bpftool feature probe kernel 2>/dev/null)
grep -q "eBPF program_type xdp is available" <<<"$features" ||
  fail "the kernel cannot load XDP programs"
grep -q "eBPF map_type xskmap is available" <<<"$features" ||
  fail "the kernel has no XSKMAP (AF_XDP)"
echo "check-privileges: root, namespaces, veth, XDP and AF_XDP available"
