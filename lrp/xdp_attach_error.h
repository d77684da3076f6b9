// Attach failures in words that say what lrp tried and what the user can do:
// the MTU, a driver without (native) XDP, another owner's XDP program,
// missing capabilities. Pure functions over what the failure left behind,
// so every sentence is tested without the failure at hand.
#pragma once

#include <cstdint>
#include <string>

#include "lrp/result.h"

namespace lrp {

enum class XdpMode;

// What was known when the attempt failed.
struct AttachAttempt {
  std::string ifname;
  XdpMode mode{};
  std::string driver;         // ethtool's name for it; empty when unknown
  uint32_t mtu = 0;           // the interface's MTU; 0 when unknown
  bool multi_buffer = true;   // the program declares xdp.frags
  std::string other_program;  // an XDP program already on the interface ("name id N")
};

// The MTU veth takes for native XDP without multi-buffer support: one page
// less XDP headroom and skb_shared_info, less the Ethernet header (3506 with
// 4 KiB pages). The limit applies to the MTU of the veth's peer.
uint32_t veth_xdp_mtu_limit();

// The error for a failed load (stage "load") or attach (stage "attach")
// that failed with errno err.
Error xdp_load_error(int err, const AttachAttempt& attempt);
Error xdp_attach_error(int err, const AttachAttempt& attempt);

// Refusal before attaching: frames up to mtu + 18 bytes (Ethernet header and
// a VLAN tag) do not fit the max_frame bytes the receive side takes in one
// UMEM frame, and it does not receive over several (no XDP_USE_SG).
Error xdp_frame_size_error(const std::string& ifname, uint32_t mtu, uint32_t max_frame);
// The largest MTU whose frames fit max_frame bytes.
uint32_t mtu_fitting(uint32_t max_frame);

// What a user does about missing capabilities, for any privileged step.
std::string capabilities_remedy();

}  // namespace lrp
