// Next hops for frames put on an AF_XDP TX ring, asked of the kernel's
// routing and neighbour tables over rtnetlink. These are the synchronous
// questions (one netlink exchange each); neighbour_resolver.h builds the
// engines' cache, the queue of datagrams waiting for ARP or NDP, and the
// notifications on top of them.
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

// A neighbour to resolve: its address and the family ARP (AF_INET) or NDP
// (AF_INET6) speaks for it.
struct NextHop {
  int family = 0;
  IpAddress address;
  bool operator==(const NextHop&) const = default;
};

// What the route to a destination says.
struct RouteAnswer {
  // Set: resolve this neighbour. Unset: fixed_mac needs no neighbour
  // (broadcast, multicast).
  std::optional<NextHop> next_hop;
  MacAddress fixed_mac{};
  uint32_t mtu = 0;  // the route's MTU (a metric or a learnt path MTU); 0: the device's
};

// What the kernel's neighbour table says about a next hop.
struct NeighbourAnswer {
  enum class State : uint8_t {
    Usable,     // a MAC the kernel would send to
    Stale,      // usable, but the kernel wants to re-verify it (started here)
    Resolving,  // no MAC yet; ARP or NDP is under way (started here if it was not)
    Failed,     // the last probes went unanswered (probing started again)
  };
  State state = State::Resolving;
  MacAddress mac{};
};

// Not thread-safe: one owner, or one lock around it.
class NeighbourTable {
 public:
  static constexpr std::chrono::milliseconds kDefaultCacheTtl{1000};
  static constexpr size_t kCacheCapacity = 4096;

  // The rtnetlink socket is opened here, in the calling thread's network
  // namespace; if that fails, every question reports why.
  explicit NeighbourTable(std::chrono::milliseconds cache_ttl = kDefaultCacheTtl);
  NeighbourTable(const NeighbourTable&) = delete;
  NeighbourTable& operator=(const NeighbourTable&) = delete;

  // The route the kernel would use for `dst` (the main tables, as for a
  // socket not bound to a device). EXDEV: it does not leave through
  // `ifindex` (an address of this host, or a route through another
  // interface): such a datagram is the kernel socket's to send. Otherwise
  // the kernel's own refusal (ENETUNREACH, EHOSTUNREACH, EACCES, ...).
  Result<RouteAnswer> route(const IpAddress& dst, int ifindex);
  // The neighbour entry of `hop` on `ifindex`; starts ARP or NDP when it is
  // missing or failed, and re-verification when it is stale, as a kernel
  // socket's send would.
  Result<NeighbourAnswer> neighbour(const NextHop& hop, int ifindex);

  // route() then neighbour(), cached for the table's TTL. Errors: EAGAIN,
  // resolution under way (retry); EHOSTUNREACH, the kernel's last probes
  // went unanswered (a new round has started); EXDEV and the route's errors.
  Result<MacAddress> resolve(const IpAddress& dst, int ifindex);

  // resolve() until it succeeds, fails for good, or `timeout` passes
  // (then ETIMEDOUT, or EHOSTUNREACH when the kernel gave up at least once).
  // Sleeps between looks; for tools and tests, never for a data path.
  Result<MacAddress> resolve_wait(const IpAddress& dst, int ifindex,
                                  std::chrono::milliseconds timeout);

  // For callers that learn a MAC went stale (interface down, peer moved).
  void invalidate(const IpAddress& dst, int ifindex);
  void clear();

  // "resolve neighbour DST on IF", for messages.
  std::string describe(const IpAddress& dst, int ifindex);

 private:
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

  static Result<RouteAnswer> parse_route(const nlmsghdr& m, const IpAddress& dst, int ifindex,
                                         const std::string& what);
  Status nudge(const NextHop& hop, int ifindex, const std::string& what);
  void remember(const Key& key, const MacAddress& mac);

  std::chrono::milliseconds ttl_;
  RtnlSocket socket_;
  std::optional<Error> open_error_;
  std::unordered_map<Key, Entry, KeyHash> cache_;
  std::unordered_map<int, std::string> names_;  // for messages only
};

}  // namespace lrp
