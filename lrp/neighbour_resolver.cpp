#include "lrp/neighbour_resolver.h"

#include <linux/neighbour.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <fstream>

namespace lrp {

namespace {

constexpr uint16_t kUsableStates =
    NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;
// The kernel's default unres_qlen_bytes (SK_WMEM_MAX).
constexpr size_t kDefaultQueueBytes = 212992;
// Past this many destinations the cache drops expired answers, then any.
constexpr size_t kCacheCapacity = 4096;
// Errors are remembered briefly: a route may appear any moment.
constexpr int64_t kErrorTtlNs = 1'000'000'000;

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

size_t read_queue_bytes(const char* family, const std::string& ifname) {
  std::ifstream in(std::string("/proc/sys/net/") + family + "/neigh/" + ifname +
                   "/unres_qlen_bytes");
  size_t value = 0;
  if (in >> value && value > 0) return value;
  return kDefaultQueueBytes;
}

std::optional<NextHop> hop_of(const ndmsg& nd, const rtattr* dst) {
  if (dst == nullptr) return std::nullopt;
  const auto* bytes = static_cast<const uint8_t*>(attribute_data(dst));
  if (nd.ndm_family == AF_INET && attribute_length(dst) == 4)
    return NextHop{AF_INET, IpAddress::from_v4_bytes(bytes)};
  if (nd.ndm_family == AF_INET6 && attribute_length(dst) == 16)
    return NextHop{AF_INET6, IpAddress::from_v6_bytes(bytes)};
  return std::nullopt;
}

}  // namespace

NeighbourResolver::NeighbourResolver(const InterfaceInfo& info, const Config& config)
    : ifindex_(info.ifindex), ifname_(info.name), config_(config), device_mtu_(info.mtu) {}

Result<std::shared_ptr<NeighbourResolver>> NeighbourResolver::open(const InterfaceInfo& info,
                                                                   const Config& config) {
  std::shared_ptr<NeighbourResolver> r(new NeighbourResolver(info, config));
  LRP_TRY(r->start());
  return r;
}

Status NeighbourResolver::start() {
  const std::string what = "follow neighbours of " + ifname_;
  queue_v4_ = config_.queue_bytes != 0 ? config_.queue_bytes : read_queue_bytes("ipv4", ifname_);
  queue_v6_ = config_.queue_bytes != 0 ? config_.queue_bytes : read_queue_bytes("ipv6", ifname_);
  // Subscribed before the first lookup, so no answer the kernel gives after
  // a lookup can be missed.
  auto socket =
      RtnlSocket::open(RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_LINK);
  if (!socket) return make_error(socket.error().code, what + ": " + socket.error().context);
  notifications_ = std::move(socket.value());
  for (size_t i = 0; i < std::max<size_t>(config_.sockets, 1); ++i)
    pool_.push_back(std::make_unique<NeighbourTable>());
  own_table_ = std::make_unique<NeighbourTable>();
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return errno_error(what + ": eventfd");
  thread_ = std::thread([this] { run(); });
  return {};
}

NeighbourResolver::~NeighbourResolver() {
  if (thread_.joinable()) {
    stop_.store(true, std::memory_order_release);
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (wake_fd_ >= 0) close(wake_fd_);
}

std::unique_ptr<NeighbourTable> NeighbourResolver::borrow() {
  std::unique_lock lock(pool_mutex_);
  // Only senders that missed the cache come here, and each holds a socket
  // for one or two netlink exchanges.
  pool_ready_.wait(lock, [&] { return !pool_.empty(); });
  auto table = std::move(pool_.back());
  pool_.pop_back();
  return table;
}

void NeighbourResolver::give_back(std::unique_ptr<NeighbourTable> table) {
  {
    std::lock_guard lock(pool_mutex_);
    pool_.push_back(std::move(table));
  }
  pool_ready_.notify_one();
}

Result<NeighbourResolver::Answer> NeighbourResolver::lookup(const IpAddress& dst, int64_t now_ns) {
  {
    std::shared_lock lock(cache_mutex_);
    if (auto it = cache_.find(dst); it != cache_.end() && it->second.expires_ns > now_ns) {
      const CacheEntry& e = it->second;
      if (e.error) return *e.error;
      Answer a{e.ready, e.path, e.hop};
      a.path.generation = generation();
      return a;
    }
  }
  counters_.lookups.fetch_add(1, std::memory_order_relaxed);
  const uint64_t generation_before = generation();
  CacheEntry entry;
  entry.expires_ns = now_ns + std::chrono::nanoseconds(config_.cache_ttl).count();
  {
    auto table = borrow();
    auto route = table->route(dst, ifindex_);
    if (!route) {
      entry.error = route.error();
      entry.expires_ns = now_ns + kErrorTtlNs;
    } else {
      entry.path.mtu = route->mtu != 0 ? std::min(route->mtu, device_mtu()) : device_mtu();
      if (!route->next_hop) {
        entry.ready = true;
        entry.path.mac = route->fixed_mac;
      } else {
        entry.hop = *route->next_hop;
        auto n = table->neighbour(entry.hop, ifindex_);
        if (!n) {
          entry.error = n.error();
          entry.expires_ns = now_ns + kErrorTtlNs;
        } else if (n->state == NeighbourAnswer::State::Usable ||
                   n->state == NeighbourAnswer::State::Stale) {
          entry.path.mac = n->mac;
          // The kernel may know the answer before our thread has sent what
          // waited for it: until then new datagrams queue behind those.
          std::lock_guard lock(mutex_);
          entry.ready = queues_.count(entry.hop) == 0;
        }
      }
    }
    give_back(std::move(table));
  }
  entry.path.expires_ns = entry.expires_ns;
  {
    std::unique_lock lock(cache_mutex_);
    // A notification in between may have made this answer old already.
    if (generation() == generation_before) {
      if (cache_.size() >= kCacheCapacity) {
        std::erase_if(cache_, [&](const auto& kv) { return kv.second.expires_ns <= now_ns; });
        if (cache_.size() >= kCacheCapacity) cache_.erase(cache_.begin());
      }
      cache_[dst] = entry;
    }
  }
  if (entry.error) return *entry.error;
  Answer a{entry.ready, entry.path, entry.hop};
  a.path.generation = generation_before;
  return a;
}

std::optional<MacAddress> NeighbourResolver::wait(const NextHop& hop, WaitingDatagram& d) {
  std::deque<WaitingDatagram> overflow;
  WaitingSink* const caller = d.sink;  // alive: its thread is in here
  bool first = false;
  bool foreign = false;
  {
    std::lock_guard lock(mutex_);
    if (auto it = usable_.find(hop); it != usable_.end()) return it->second;
    auto [it, inserted] = queues_.try_emplace(hop);
    Queue& q = it->second;
    if (inserted) q.since_ns = steady_ns();
    first = inserted;
    q.bytes += d.charge();
    q.datagrams.push_back(std::move(d));
    // As the kernel does: the oldest leave to make room.
    const size_t limit = queue_bytes(hop.family);
    while (q.bytes > limit && q.datagrams.size() > 1) {
      q.bytes -= q.datagrams.front().charge();
      WaitingDatagram& oldest = q.datagrams.front();
      // Another engine's datagram is counted by the thread, which keeps
      // that engine from going away meanwhile (detach).
      if (oldest.sink == caller) {
        overflow.push_back(std::move(oldest));
      } else {
        overflowed_.push_back(std::move(oldest));
        foreign = true;
      }
      q.datagrams.pop_front();
      counters_.overflow.fetch_add(1, std::memory_order_relaxed);
    }
  }
  counters_.queued.fetch_add(1, std::memory_order_relaxed);
  for (const auto& o : overflow) caller->drop_waiting(o, ENOBUFS);
  if (first || foreign) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
  }
  return std::nullopt;
}

void NeighbourResolver::detach(WaitingSink* sink) {
  std::lock_guard calls(callback_mutex_);
  std::lock_guard lock(mutex_);
  std::erase_if(overflowed_, [&](const WaitingDatagram& d) { return d.sink == sink; });
  for (auto it = queues_.begin(); it != queues_.end();) {
    Queue& q = it->second;
    std::erase_if(q.datagrams, [&](const WaitingDatagram& d) { return d.sink == sink; });
    q.bytes = 0;
    for (const auto& d : q.datagrams) q.bytes += d.charge();
    it = q.datagrams.empty() ? queues_.erase(it) : std::next(it);
  }
}

size_t NeighbourResolver::waiting() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [hop, q] : queues_) n += q.datagrams.size();
  return n;
}

// Caller holds callback_mutex_ (taken before the datagrams left their
// queue, so that their engines cannot detach and go meanwhile).
void NeighbourResolver::release(std::deque<WaitingDatagram>& datagrams, const MacAddress& mac) {
  if (datagrams.empty()) return;
  counters_.released.fetch_add(datagrams.size(), std::memory_order_relaxed);
  std::vector<WaitingDatagram> batch;
  while (!datagrams.empty()) {
    // One call per engine, in the order they were sent.
    WaitingSink* sink = datagrams.front().sink;
    batch.clear();
    for (auto it = datagrams.begin(); it != datagrams.end();) {
      if (it->sink == sink) {
        batch.push_back(std::move(*it));
        it = datagrams.erase(it);
      } else {
        ++it;
      }
    }
    sink->send_waiting(batch, mac);
  }
}

// Caller holds callback_mutex_, as for release().
void NeighbourResolver::drop(std::deque<WaitingDatagram>& datagrams, int error) {
  if (datagrams.empty()) return;
  counters_.failed.fetch_add(datagrams.size(), std::memory_order_relaxed);
  for (const auto& d : datagrams) d.sink->drop_waiting(d, error);
  datagrams.clear();
}

void NeighbourResolver::hop_usable(const NextHop& hop, const MacAddress& mac) {
  std::lock_guard calls(callback_mutex_);
  // What waited leaves before the hop is published as usable, and what
  // queued behind it meanwhile leaves next: a sender that finds the hop
  // usable finds its queue empty, so datagrams leave in the order sent, as
  // from the kernel's unresolved queue.
  for (;;) {
    std::deque<WaitingDatagram> ready;
    {
      std::lock_guard lock(mutex_);
      if (auto it = queues_.find(hop); it != queues_.end()) {
        ready = std::move(it->second.datagrams);
        queues_.erase(it);
      }
      if (ready.empty()) {
        usable_[hop] = mac;
        break;
      }
    }
    release(ready, mac);
  }
  {
    std::unique_lock lock(cache_mutex_);
    for (auto& [dst, e] : cache_) {
      if (e.error || !(e.hop == hop)) continue;
      e.ready = true;
      e.path.mac = mac;
    }
    // Also when nothing cached changed: a lookup under way when the
    // notification came must not cache its older answer.
    bump_generation();
  }
}

void NeighbourResolver::hop_failed(const NextHop& hop, bool drop_waiting) {
  std::lock_guard calls(callback_mutex_);
  std::deque<WaitingDatagram> failed;
  {
    std::lock_guard lock(mutex_);
    usable_.erase(hop);
    if (auto it = queues_.find(hop); drop_waiting && it != queues_.end()) {
      failed = std::move(it->second.datagrams);
      queues_.erase(it);
    }
  }
  {
    std::unique_lock lock(cache_mutex_);
    std::erase_if(cache_, [&](const auto& kv) { return !kv.second.error && kv.second.hop == hop; });
    bump_generation();
  }
  drop(failed, EHOSTUNREACH);
}

void NeighbourResolver::forget_everything() {
  {
    std::lock_guard lock(mutex_);
    usable_.clear();
  }
  std::unique_lock lock(cache_mutex_);
  cache_.clear();
  bump_generation();
}

void NeighbourResolver::handle(const nlmsghdr& m) {
  switch (m.nlmsg_type) {
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH: {
      const ndmsg* nd = family_header<ndmsg>(m);
      if (nd == nullptr || nd->ndm_ifindex != ifindex_) return;
      std::array<const rtattr*, NDA_MAX + 1> attrs{};
      parse_attributes(m, sizeof(ndmsg), attrs);
      auto hop = hop_of(*nd, attrs[NDA_DST]);
      if (!hop) return;
      if (m.nlmsg_type == RTM_DELNEIGH) {
        // Whatever waits stays: the next look starts a new resolution.
        hop_failed(*hop, /*drop_waiting=*/false);
        return;
      }
      const rtattr* lladdr = attrs[NDA_LLADDR];
      if ((nd->ndm_state & kUsableStates) != 0 && lladdr != nullptr &&
          attribute_length(lladdr) == 6) {
        MacAddress mac;
        std::memcpy(mac.data(), attribute_data(lladdr), 6);
        hop_usable(*hop, mac);
      } else if ((nd->ndm_state & NUD_FAILED) != 0) {
        hop_failed(*hop, /*drop_waiting=*/true);
      }
      return;
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
      std::unique_lock lock(cache_mutex_);
      cache_.clear();
      bump_generation();
      return;
    }
    case RTM_NEWLINK: {
      const ifinfomsg* link = family_header<ifinfomsg>(m);
      if (link == nullptr || link->ifi_index != ifindex_) return;
      std::array<const rtattr*, IFLA_MAX + 1> attrs{};
      parse_attributes(m, sizeof(ifinfomsg), attrs);
      if (attrs[IFLA_MTU] == nullptr || attribute_length(attrs[IFLA_MTU]) < sizeof(uint32_t))
        return;
      uint32_t mtu = 0;
      std::memcpy(&mtu, attribute_data(attrs[IFLA_MTU]), sizeof(mtu));
      if (mtu != device_mtu_.exchange(mtu)) {
        std::unique_lock lock(cache_mutex_);
        cache_.clear();
        bump_generation();
      }
      return;
    }
    default:
      return;
  }
}

// Looks at every waiting neighbour: covers notifications the kernel dropped
// and entries that vanished, and bounds how long anything waits.
void NeighbourResolver::recheck(int64_t now_ns) {
  std::vector<std::pair<NextHop, int64_t>> hops;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [hop, q] : queues_) hops.emplace_back(hop, q.since_ns);
  }
  for (const auto& [hop, since] : hops) {
    if (now_ns - since > std::chrono::nanoseconds(config_.max_wait).count()) {
      hop_failed(hop, /*drop_waiting=*/true);
      continue;
    }
    auto n = own_table_->neighbour(hop, ifindex_);
    if (!n) continue;
    if (n->state == NeighbourAnswer::State::Usable || n->state == NeighbourAnswer::State::Stale)
      hop_usable(hop, n->mac);
    // A Failed answer here restarted probing; the FAILED notification of
    // that round decides, so that a datagram queued just now gets its round.
  }
}

void NeighbourResolver::run() {
  int64_t last_recheck = steady_ns();
  while (!stop_.load(std::memory_order_acquire)) {
    bool waiting_now = false;
    {
      std::lock_guard lock(mutex_);
      waiting_now = !queues_.empty();
    }
    const int timeout =
        waiting_now ? static_cast<int>(config_.recheck.count()) : 1000;  // 1 s: stop checks
    pollfd fds[2] = {{notifications_.fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    (void)poll(fds, 2, timeout);
    if (stop_.load(std::memory_order_acquire)) break;
    uint64_t wakes = 0;
    (void)!read(wake_fd_, &wakes, sizeof(wakes));
    {
      std::lock_guard calls(callback_mutex_);
      std::deque<WaitingDatagram> overflowed;
      {
        std::lock_guard lock(mutex_);
        overflowed.swap(overflowed_);
      }
      for (const auto& d : overflowed) d.sink->drop_waiting(d, ENOBUFS);
    }
    for (;;) {
      auto got = notifications_.receive_pending([&](const nlmsghdr& m) { handle(m); });
      if (got) {
        if (!got.value()) break;
        continue;
      }
      if (got.error().code == ENOBUFS) {
        // The kernel dropped notifications: nothing cached can be trusted.
        counters_.notifications_lost.fetch_add(1, std::memory_order_relaxed);
        forget_everything();
        last_recheck = 0;
        continue;
      }
      break;
    }
    const int64_t now = steady_ns();
    if (waiting_now && now - last_recheck >= std::chrono::nanoseconds(config_.recheck).count()) {
      recheck(now);
      last_recheck = now;
    }
  }
}

}  // namespace lrp
