// What lrp needs to know about a network interface.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "lrp/ip_address.h"
#include "lrp/result.h"

namespace lrp {

struct InterfaceInfo {
  int ifindex = 0;
  std::string name;
  std::array<uint8_t, 6> mac{};
  uint32_t mtu = 0;
  bool up = false;
  std::vector<IpAddress> addresses;
  uint32_t rx_queues = 1;
};

// ENODEV with the name when there is no such interface in this namespace.
Result<InterfaceInfo> query_interface(const std::string& name);
Result<bool> interface_is_up(const std::string& name);

}  // namespace lrp
