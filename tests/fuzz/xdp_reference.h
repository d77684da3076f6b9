// What the XDP program must decide for a frame, written as plain C++ from the
// rules in bpf/lrp_xdp.bpf.c's comments and bpf/lrp_shared.h, not from its
// code: the verdict, the one global reason counter that moves besides
// LRP_G_SEEN, and the slot counter that moves, if any. The differential
// fuzzer and the corpus test hold the BPF program to it.
#pragma once

#include <linux/bpf.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>

#include "bpf/lrp_shared.h"
#include "tests/bpf/xdp_names.h"

namespace lrp::fuzz {

using Address16 = std::array<uint8_t, 16>;  // the flow-key form of an address

// The maps as the reference sees them.
struct ReferenceMaps {
  std::map<std::string, lrp_flow_value> flows;      // raw lrp_flow_key bytes -> target
  std::map<uint32_t, lrp_reuseport_group> groups;   // reuseport_groups (absent: zeros)
  std::map<uint32_t, bool> shed;                    // slot_control (absent: 0)
  std::set<std::pair<uint32_t, uint32_t>> sockets;  // (queue, slot) holding a socket
  // iface_config, local_addrs and mcast_groups.
  std::array<uint8_t, 6> mac{};
  uint16_t vlan = 0;
  std::map<Address16, uint32_t> addresses;  // LRP_ADDR_* flags
  std::set<Address16> joined;

  void add_flow(const lrp_flow_key& key, uint32_t slot);
  void add_group_flow(const lrp_flow_key& key, uint32_t group);
  std::optional<lrp_flow_value> find(const lrp_flow_key& key) const;
};

struct Decision {
  int verdict = XDP_PASS;
  lrp_global_counter reason = LRP_G_PASS_MALFORMED;  // the counter besides LRP_G_SEEN
  std::optional<uint32_t> slot;                      // slot whose counter moves
  lrp_slot_counter slot_counter = LRP_SLOT_REDIRECTED;
};

// The decision for a frame of at least 14 bytes (the kernel refuses shorter
// ones before any XDP program runs) that arrived on receive queue `queue`.
Decision classify(std::span<const uint8_t> frame, const ReferenceMaps& maps, uint32_t queue = 0);

// The UDP 4-tuple of a frame that parses as far as the UDP ports (any
// lengths), in flow-key form; used to build flows that the frame hits.
struct Tuple {
  int family = 4;
  uint8_t local[16] = {};
  uint8_t remote[16] = {};
  uint16_t local_port = 0;  // network byte order
  uint16_t remote_port = 0;
};
std::optional<Tuple> udp_tuple(std::span<const uint8_t> frame);

using test::global_counter_name;
using test::verdict_name;
const char* slot_counter_name(int counter);
std::string describe(const Decision& d);

}  // namespace lrp::fuzz
