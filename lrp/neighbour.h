// Next-hop MAC addresses from the kernel's routes and neighbour table, over
// rtnetlink, with a small cache. A miss asks the kernel to resolve and
// reports EAGAIN, so a sender never blocks on ARP or NDP.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <unordered_map>

#include "lrp/ip_address.h"
#include "lrp/result.h"

namespace lrp {

using MacAddress = std::array<uint8_t, 6>;

class NeighbourTable {
 public:
  NeighbourTable() = default;
  ~NeighbourTable();
  NeighbourTable(const NeighbourTable&) = delete;
  NeighbourTable& operator=(const NeighbourTable&) = delete;

  // The MAC to send to `dst` out of `ifindex`: the destination itself when it
  // is on link, else its gateway's. EAGAIN: resolution started, retry later.
  Result<MacAddress> resolve(const IpAddress& dst, int ifindex);
  // Retries resolve() until it succeeds or `timeout` passes.
  Result<MacAddress> resolve_wait(const IpAddress& dst, int ifindex,
                                  std::chrono::milliseconds timeout);
  void forget(const IpAddress& dst) { cache_.erase(dst); }

  static constexpr std::chrono::seconds kCacheTtl{2};

 private:
  Status open_socket();
  Result<IpAddress> next_hop(const IpAddress& dst, int ifindex);
  Result<MacAddress> lookup_neighbour(const IpAddress& hop, int ifindex);
  Status trigger_resolution(const IpAddress& hop, int ifindex);
  Status request(void* msg, size_t len, const char* what);

  struct Entry {
    MacAddress mac;
    std::chrono::steady_clock::time_point expires;
  };
  int fd_ = -1;
  uint32_t seq_ = 0;
  std::unordered_map<IpAddress, Entry> cache_;
};

}  // namespace lrp
