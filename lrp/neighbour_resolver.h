// Next hops for the engines of one interface, kept so that no sender ever
// waits for ARP or NDP and none holds a lock another sender or the receive
// path needs:
// - a cache of destination -> (MAC, path MTU) that senders read under a
//   shared lock; a miss asks the kernel (route, then neighbour entry) on a
//   netlink socket borrowed from a small pool, without holding any lock;
// - a queue per unresolved neighbour, bounded in bytes like the kernel's
//   unresolved queue (unres_qlen_bytes), where a datagram waits while the
//   kernel resolves; its sender carries on;
// - a thread that follows the kernel's neighbour, route and link
//   notifications (RTM_NEWNEIGH and friends): it hands waiting datagrams
//   back to their engine to transmit when the neighbour answers, drops them
//   (counted; EHOSTUNREACH to sockets that asked for errors, as the kernel
//   reports it only with IP_RECVERR) when resolution fails, and keeps the
//   cache honest.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "lrp/ip_address.h"
#include "lrp/neighbour.h"
#include "lrp/netdev.h"
#include "lrp/result.h"

namespace lrp {

// What a sender needs to put a frame for a destination on the wire.
struct PathInfo {
  MacAddress mac{};
  uint32_t mtu = 0;         // path MTU: the route's, else the device's
  int64_t expires_ns = 0;   // steady clock; ask again after this
  uint64_t generation = 0;  // the resolver's generation it was valid in
};

class WaitingSink;

// A datagram waiting for its neighbour: all its frame needs but the MAC.
struct WaitingDatagram {
  WaitingSink* sink = nullptr;
  uint16_t slot = 0;
  uint32_t epoch = 0;  // tells the socket in the slot from a later one
  Endpoint source;
  Endpoint destination;
  std::vector<uint8_t> payload;
  // What it is charged against its neighbour's queue: the frame's bytes and
  // this bookkeeping (the kernel charges an skb's true size).
  size_t charge() const { return payload.size() + 64 + sizeof(WaitingDatagram); }
};

// An engine, as the resolver sees it. Calls come from the resolver's
// thread (send_waiting, drop_waiting) or from a sender's thread
// (drop_waiting, for a queue overflow); drop_waiting must not block.
class WaitingSink {
 public:
  virtual ~WaitingSink() = default;
  // The neighbour answered: build the frames with `mac` and transmit.
  virtual void send_waiting(std::span<WaitingDatagram> datagrams, const MacAddress& mac) = 0;
  // Not sent: EHOSTUNREACH (resolution failed) or ENOBUFS (the
  // neighbour's queue overflowed and this, the oldest, made room).
  virtual void drop_waiting(const WaitingDatagram& datagram, int error) = 0;
};

struct ResolverCounters {
  std::atomic<uint64_t> lookups{0};   // cache misses answered by the kernel
  std::atomic<uint64_t> queued{0};    // datagrams that waited for a neighbour
  std::atomic<uint64_t> released{0};  // ... and left when it answered
  std::atomic<uint64_t> failed{0};    // ... dropped: resolution failed
  std::atomic<uint64_t> overflow{0};  // ... dropped: the neighbour's queue was full
  std::atomic<uint64_t> notifications_lost{0};
};

class NeighbourResolver {
 public:
  struct Config {
    // How long a cached answer is used before the kernel is asked again
    // (a stale neighbour entry is re-verified then, as traffic would).
    std::chrono::milliseconds cache_ttl{5000};
    // A datagram waits at most this long, whatever the kernel does.
    std::chrono::milliseconds max_wait{10000};
    // How often waiting neighbours are looked at even without a notification.
    std::chrono::milliseconds recheck{100};
    // Netlink sockets senders can ask on at once.
    size_t sockets = 4;
    // Bytes a neighbour's queue holds; 0: the interface's unres_qlen_bytes.
    size_t queue_bytes = 0;
  };

  // Opens the netlink sockets in the calling thread's network namespace and
  // starts the notification thread.
  static Result<std::shared_ptr<NeighbourResolver>> open(const InterfaceInfo& info,
                                                         const Config& config);
  static Result<std::shared_ptr<NeighbourResolver>> open(const InterfaceInfo& info) {
    return open(info, Config{});
  }
  ~NeighbourResolver();
  NeighbourResolver(const NeighbourResolver&) = delete;
  NeighbourResolver& operator=(const NeighbourResolver&) = delete;

  struct Answer {
    bool ready = false;
    PathInfo path;  // ready: everything; not ready: the MTU
    NextHop hop;    // not ready: the neighbour to wait for
  };
  // The path to `dst`: from the cache, or from the kernel (one or two
  // netlink exchanges, no lock held meanwhile). Errors as
  // NeighbourTable::route (EXDEV: not through this interface).
  Result<Answer> lookup(const IpAddress& dst, int64_t now_ns);

  // Queues `d` until `hop` answers. If the hop was resolved since the
  // lookup, returns its MAC instead and leaves `d` alone: send it now.
  std::optional<MacAddress> wait(const NextHop& hop, WaitingDatagram& d);

  // Forgets every datagram of `sink` and returns once no call to it is
  // under way; no call reaches it afterwards.
  void detach(WaitingSink* sink);

  // Changes whenever a cached answer may have become wrong.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  uint32_t device_mtu() const { return device_mtu_.load(std::memory_order_relaxed); }
  size_t queue_bytes(int family) const { return family == AF_INET ? queue_v4_ : queue_v6_; }
  size_t waiting() const;
  const ResolverCounters& counters() const { return counters_; }

 private:
  struct HopHash {
    size_t operator()(const NextHop& h) const noexcept {
      return std::hash<IpAddress>{}(h.address) ^ static_cast<size_t>(h.family);
    }
  };
  struct CacheEntry {
    bool ready = false;
    PathInfo path;
    NextHop hop;
    std::optional<Error> error;
    int64_t expires_ns = 0;
  };
  struct Queue {
    std::deque<WaitingDatagram> datagrams;
    size_t bytes = 0;
    int64_t since_ns = 0;
  };

  NeighbourResolver(const InterfaceInfo& info, const Config& config);
  Status start();
  void run();
  void handle(const nlmsghdr& m);
  void hop_usable(const NextHop& hop, const MacAddress& mac);
  void hop_failed(const NextHop& hop, bool drop_waiting);
  void forget_everything();
  void recheck(int64_t now_ns);
  void release(std::deque<WaitingDatagram>& datagrams, const MacAddress& mac);
  void drop(std::deque<WaitingDatagram>& datagrams, int error);
  std::unique_ptr<NeighbourTable> borrow();
  void give_back(std::unique_ptr<NeighbourTable> table);
  void bump_generation() { generation_.fetch_add(1, std::memory_order_acq_rel); }

  const int ifindex_;
  const std::string ifname_;
  const Config config_;
  size_t queue_v4_ = 0, queue_v6_ = 0;
  std::atomic<uint32_t> device_mtu_;
  std::atomic<uint64_t> generation_{1};
  ResolverCounters counters_;

  mutable std::shared_mutex cache_mutex_;
  std::unordered_map<IpAddress, CacheEntry> cache_;

  std::mutex pool_mutex_;
  std::condition_variable pool_ready_;
  std::vector<std::unique_ptr<NeighbourTable>> pool_;

  mutable std::mutex mutex_;  // queues_, usable_, overflowed_
  std::unordered_map<NextHop, Queue, HopHash> queues_;
  std::deque<WaitingDatagram> overflowed_;  // other engines' overflow, counted by the thread
  std::unordered_map<NextHop, MacAddress, HopHash> usable_;  // as the last notification said

  // Held by the thread from taking datagrams out of their queues until their
  // engines have been called, and by detach(): an engine is never called
  // after it detached. Senders never take it.
  std::mutex callback_mutex_;
  std::unique_ptr<NeighbourTable> own_table_;  // the thread's
  RtnlSocket notifications_;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace lrp
