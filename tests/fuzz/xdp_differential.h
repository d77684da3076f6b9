// Runs one fuzz input through the real XDP program (BPF_PROG_TEST_RUN, no
// device) and through the reference classifier, and reports any difference
// in verdict or counters.
//
// Input layout: byte 0 holds the number of flows (low two bits); then 4
// bytes per flow; the rest is the frame.
//   flow byte 0: bits 0-1 kind (0 and 3: wildcard, 1: local, 2: connected),
//                bit 2 IPv6, bit 3 take addresses and ports from the frame,
//                bit 4 raise the slot's shed flag
//   flow byte 1: slot (values of LRP_MAX_SLOTS and above are allowed: the
//                program must survive a bad slot from user space)
//   flow bytes 2-3: local port, network order (when not taken from the frame)
// Slot kSocketSlot holds a real AF_XDP socket, so redirects succeed there.
#pragma once

#include <bpf/libbpf.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bpf/lrp_shared.h"
#include "tests/bpf/skeleton.h"
#include "tests/bpf/test_xsk.h"

namespace lrp::fuzz {

inline constexpr uint32_t kSocketSlot = 1;
inline constexpr size_t kFlowBytes = 4;
// BPF_PROG_TEST_RUN takes at least an Ethernet header; frames above a page
// would need multi-buffer XDP, which the program does not declare.
inline constexpr size_t kMinFrame = 14;
inline constexpr size_t kMaxFrame = 3000;

struct FlowSpec {
  uint8_t control = 0;
  uint8_t slot = 0;
  uint16_t port_be = 0;
};

struct DecodedInput {
  std::vector<FlowSpec> flows;
  std::span<const uint8_t> frame;
};

DecodedInput decode_input(std::span<const uint8_t> input);
// The inverse, for writing seeds.
std::vector<uint8_t> encode_input(const std::vector<FlowSpec>& flows,
                                  std::span<const uint8_t> frame);

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
  bool read_counters(std::vector<uint64_t>* global, std::vector<uint64_t>* slots,
                     const std::vector<uint32_t>& slot_ids, std::string* error);

  test::XdpSkel* skel_ = nullptr;
  std::unique_ptr<test::TestXsk> xsk_;
  int cpus_ = 0;
  uint64_t runs_ = 0;
};

}  // namespace lrp::fuzz
