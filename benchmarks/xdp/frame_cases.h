// The frames the benchmark times, each stopping at a known point of the XDP
// program, and the differences between them that price one check each.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/lrp_shared.h"

namespace lrp::bench {

// The interface as the maps describe it. Unicast addresses are from the
// benchmarking ranges; the groups are the ones the program tests join (a
// group cannot be in those ranges). No frame leaves the process.
inline constexpr std::array<uint8_t, 6> kOurMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline constexpr std::array<uint8_t, 6> kOtherMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
inline constexpr const char* kServer4 = "198.18.0.1";
inline constexpr const char* kClient4 = "198.18.0.2";
inline constexpr const char* kOther4 = "198.18.0.3";  // not local
inline constexpr const char* kServer6 = "2001:2::1";
inline constexpr const char* kClient6 = "2001:2::2";
inline constexpr const char* kOther6 = "2001:2::3";
inline constexpr const char* kGroup4 = "239.1.1.1";
inline constexpr const char* kOtherGroup4 = "239.1.1.2";
inline constexpr const char* kGroup6 = "ff05::1:3";
inline constexpr const char* kOtherGroup6 = "ff05::1:4";

inline constexpr uint16_t kPort = 7000;         // wildcard and connected flows
inline constexpr uint16_t kPortSocket = 7300;   // connected flow to a slot with a socket
inline constexpr uint16_t kPortUnbound = 7001;  // no flow
inline constexpr uint16_t kClientPort = 5000;   // the connected flows' remote port
inline constexpr uint16_t kOtherClientPort = 5001;
inline constexpr uint16_t kOtherVlan = 7;  // served in the other_vlan cases

inline constexpr uint32_t kSlotWildcard = 1;
inline constexpr uint32_t kSlotConnected4 = 2;
inline constexpr uint32_t kSlotConnected6 = 3;
inline constexpr uint32_t kSlotSocket = 4;  // the XSKMAP holds a socket at (queue 0, slot)

struct FrameCase {
  std::string name;
  std::string description;
  std::vector<uint8_t> frame;
  bool floor = false;        // run the XDP_PASS-only program instead
  uint16_t served_vlan = 0;  // the interface's VLAN while this case runs
  int verdict = 0;
  lrp_global_counter stops_at = LRP_G_SEEN;  // the counter this frame moves
};

// One check priced as the difference of two cases (`to` minus `from`).
struct Step {
  std::string what;
  std::string from, to;
};

std::vector<FrameCase> frame_cases();
std::vector<Step> steps();

}  // namespace lrp::bench
