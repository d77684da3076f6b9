// Next-hop MAC addresses for frames put on an AF_XDP TX ring: the kernel's
// routing and neighbour tables decide, over rtnetlink, and a small cache keeps
// the lookups off the send path. A miss asks the kernel to resolve and reports
// EAGAIN, so a sender never blocks on ARP or NDP.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "lrp/ip_address.h"
#include "lrp/netdev.h"
#include "lrp/result.h"

namespace lrp {

// Not thread-safe: one owner, or one lock around it.
class NeighbourTable {
 public:
  static constexpr std::chrono::milliseconds kDefaultCacheTtl{1000};
  static constexpr size_t kCacheCapacity = 4096;

  // The rtnetlink socket is opened here, in the calling thread's network
  // namespace; if that fails, every resolve() reports why.
  explicit NeighbourTable(std::chrono::milliseconds cache_ttl = kDefaultCacheTtl);
  NeighbourTable(const NeighbourTable&) = delete;
  NeighbourTable& operator=(const NeighbourTable&) = delete;

  // The MAC to send to `dst` out of `ifindex`: dst's own when it is on link,
  // else its gateway's. Errors: EAGAIN, resolution under way (retry);
  // EHOSTUNREACH, the kernel's last probes went unanswered (a new round has
  // started); ENETUNREACH and others from the route lookup.
  Result<MacAddress> resolve(const IpAddress& dst, int ifindex);

  // resolve() until it succeeds, fails for good, or `timeout` passes
  // (then ETIMEDOUT, or EHOSTUNREACH when the kernel gave up at least once).
  Result<MacAddress> resolve_wait(const IpAddress& dst, int ifindex,
                                  std::chrono::milliseconds timeout);

  // For callers that learn a MAC went stale (interface down, peer moved).
  void invalidate(const IpAddress& dst, int ifindex);
  void clear();

 private:
  struct NextHop {
    int family = 0;
    IpAddress address;
  };
  struct Key {
    IpAddress dst;
    int ifindex = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      return std::hash<IpAddress>{}(k.dst) ^ (static_cast<size_t>(k.ifindex) * 0x9e3779b97f4a7c15);
    }
  };
  struct Entry {
    MacAddress mac;
    std::chrono::steady_clock::time_point expires;
  };
  // What RTM_GETROUTE said: a next hop, or a MAC that needs no neighbour.
  struct Route {
    std::optional<NextHop> next_hop;
    MacAddress fixed_mac{};
  };

  static Result<Route> parse_route(const nlmsghdr& m, const IpAddress& dst, int ifindex,
                                   const std::string& what);
  Result<Route> find_route(const IpAddress& dst, int ifindex, const std::string& what);
  Result<MacAddress> ask_neighbour(const NextHop& hop, int ifindex, const std::string& what);
  Status nudge(const NextHop& hop, int ifindex, const std::string& what);
  std::string describe(const IpAddress& dst, int ifindex);
  void remember(const Key& key, const MacAddress& mac);

  std::chrono::milliseconds ttl_;
  RtnlSocket socket_;
  std::optional<Error> open_error_;
  std::unordered_map<Key, Entry, KeyHash> cache_;
  std::unordered_map<int, std::string> names_;  // for messages only
};

}  // namespace lrp
