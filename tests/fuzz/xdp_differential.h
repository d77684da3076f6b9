// Runs one fuzz input through the real XDP program (BPF_PROG_TEST_RUN, no
// device) and through the reference classifier, and reports any difference
// in verdict or counters.
//
// Input layout:
//   byte 0: bits 0-1 the number of flows; bits 2-7 the receive queue the
//           frame arrives on (0..62, and 63 stands for queue LRP_MAX_QUEUES,
//           one past the XSKMAP's rows)
//   byte 1: the host (see kHost* below): the interface's MAC, served VLAN,
//           addresses and joined groups
//   then 4 bytes per flow, then the frame.
//   flow byte 0: bits 0-1 kind (0 and 3: wildcard, 1: local, 2: connected),
//                bit 2 IPv6, bit 3 take addresses and ports from the frame,
//                bit 4 raise the slot's shed flag (a group's: its first
//                member's), bit 5 move the slot or group past its map (the
//                program must survive bad values from user space), bit 6 the
//                flow is a reuseport group (kGroups[slot byte % 4])
//   flow byte 1: slot
//   flow bytes 2-3: local port, network order (when not taken from the frame)
// Slot kSocketSlot holds a real AF_XDP socket on the queues in kSocketQueues,
// so redirects succeed there.
#pragma once

#include <bpf/libbpf.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bpf/lrp_shared.h"
#include "tests/bpf/private_netns.h"
#include "tests/bpf/skeleton.h"
#include "tests/bpf/test_xsk.h"

namespace lrp::fuzz {

struct ReferenceMaps;

inline constexpr uint32_t kSocketSlot = 1;
inline constexpr uint32_t kSocketQueues[] = {0, 2};
// The queue code in byte 0 that stands for a queue past the XSKMAP.
inline constexpr uint8_t kQueueBeyondMap = 63;

// Byte 1. Without kHostOtherMac the interface's MAC is the bench server's
// (FrameBuilder::kUnicastMac); the "frame's" bits use the frame's own UDP
// destination address, when it has one.
inline constexpr uint8_t kHostOtherMac = 0x01;   // the interface's MAC is another
inline constexpr uint8_t kHostFrameVlan = 0x02;  // serve the frame's VLAN ID (or 100)
inline constexpr uint8_t kHostBenchAddresses =
    0x04;                                         // server addresses, subnet and limited broadcast
inline constexpr uint8_t kHostFrameLocal = 0x08;  // the frame's destination is local
inline constexpr uint8_t kHostFrameBroadcast = 0x10;  // ... is a broadcast address
inline constexpr uint8_t kHostFrameJoined = 0x20;     // ... is a joined group
inline constexpr uint8_t kHostBenchGroups = 0x40;     // 239.1.1.1 and ff05::1:3 joined
// What seeds use: the bench server as the live tests configure it.
inline constexpr uint8_t kHostBench = kHostBenchAddresses | kHostBenchGroups;

// Reuseport groups, fixed for the whole run; the last is left empty.
inline const std::vector<std::vector<uint32_t>> kGroups = {
    {kSocketSlot}, {kSocketSlot, 9}, {9, 10, kSocketSlot}, {}};

inline constexpr size_t kFlowBytes = 4;
// BPF_PROG_TEST_RUN takes at least an Ethernet header. Frames above a page
// run as multi-buffer XDP (the program declares xdp.frags), as at MTU 9000.
inline constexpr size_t kMinFrame = 14;
inline constexpr size_t kMaxFrame = 9018;

struct FlowSpec {
  uint8_t control = 0;
  uint8_t slot = 0;
  uint16_t port_be = 0;
};

struct DecodedInput {
  uint32_t queue = 0;
  uint8_t host = 0;
  std::vector<FlowSpec> flows;
  std::span<const uint8_t> frame;
};

DecodedInput decode_input(std::span<const uint8_t> input);
// The inverse, for writing seeds. queue_code: bits 2-7 of byte 0.
std::vector<uint8_t> encode_input(const std::vector<FlowSpec>& flows,
                                  std::span<const uint8_t> frame, uint8_t queue_code = 0,
                                  uint8_t host = kHostBench);

class XdpDifferential {
 public:
  // Null on failure with the reason in *error (needs root for BPF).
  static std::unique_ptr<XdpDifferential> open(std::string* error);
  ~XdpDifferential();

  // Empty when the program and the reference agree; otherwise what differed.
  // Inputs whose frame the kernel would not run are accepted as agreeing.
  std::string check(std::span<const uint8_t> input);

  uint64_t runs() const { return runs_; }

 private:
  XdpDifferential() = default;
  // iface_config, local_addrs and mcast_groups as the reference has them.
  bool write_host(const ReferenceMaps& maps, std::string* error);
  bool read_counters(std::vector<uint64_t>* global, std::vector<uint64_t>* slots,
                     const std::vector<uint32_t>& slot_ids, std::string* error);

  std::unique_ptr<test::PrivateNetns> netns_;  // holds the device with the queues
  int ifindex_ = 0;
  test::XdpSkel* skel_ = nullptr;
  std::unique_ptr<test::TestXsk> xsk_;
  int cpus_ = 0;
  uint64_t runs_ = 0;
};

}  // namespace lrp::fuzz
