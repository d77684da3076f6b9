#include "lrp/engine.h"

#include <arpa/inet.h>
#include <linux/if_xdp.h>
#include <linux/membarrier.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "lrp/netdev.h"

namespace lrp {

struct Engine::Socket {
  xsk_socket* xsk = nullptr;
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
  SlotId slot = 0;
  Endpoint local;
  SocketOptions options;
  SocketCounters counters;
  bool busy_poll = false;
  // When the transmit budget was first found full with no completion since
  // (0: not stalled), and the completion count seen then.
  int64_t tx_stalled_since_ns = 0;
  uint64_t tx_stall_completed = 0;

  ~Socket() {
    if (xsk != nullptr) xsk_socket__delete(xsk);
  }
};

static std::string where(const EngineConfig& c) {
  return c.ifname + " queue " + std::to_string(c.queue);
}

// A full transmit budget with no completion for this long means the kernel
// stopped transmitting (link down, device gone): send() then fails with
// ETIMEDOUT instead of EAGAIN, so a caller that retries on EAGAIN stops.
static constexpr int64_t kTxStallNs = 1'000'000'000;

static int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Engine::Engine(XdpProgram& program, ShedVotes& shed) : program_(program), shed_(shed) {}

Result<std::unique_ptr<Engine>> Engine::open(const EngineConfig& config, XdpProgram& program,
                                             ShedVotes& shed, const InterfaceInfo& info) {
  std::unique_ptr<Engine> e(new Engine(program, shed));
  e->config_ = config;
  e->ifindex_ = info.ifindex;
  e->mac_ = info.mac;
  e->set_addresses(info.addresses);
  if (config.queue >= info.rx_queues)
    return make_error(EINVAL, "queue " + std::to_string(config.queue) + " does not exist on " +
                                  config.ifname + " (it has " + std::to_string(info.rx_queues) +
                                  ")");
  if (config.queue >= LRP_MAX_QUEUES)
    return make_error(EINVAL, "queue " + std::to_string(config.queue) + " of " + config.ifname +
                                  ": lrp serves queues 0 to " + std::to_string(LRP_MAX_QUEUES - 1));
  auto umem = Umem::create(config.umem);
  if (!umem) return umem.error();
  e->umem_ = std::move(umem.value());
  e->pool_ =
      std::make_unique<FramePool>(config.umem.frame_count, config.umem.frame_size, LRP_MAX_SLOTS);
  LRP_TRY(e->open_anchor());
  e->refill();
  return e;
}

void Engine::set_addresses(std::vector<IpAddress> addresses) {
  addresses_.store(std::make_shared<const std::vector<IpAddress>>(std::move(addresses)));
}

// The first socket of a UMEM owns the fill and completion rings and the bind
// flags; later sockets share them. A socket with no flows keeps that role for
// the engine's whole life, so application sockets can come and go freely.
Status Engine::open_anchor() {
  anchor_ = std::make_unique<Socket>();
  xsk_socket_config cfg{.rx_size = config_.rx_size,
                        .tx_size = config_.tx_size,
                        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
                        .xdp_flags = 0,
                        .bind_flags = XDP_USE_NEED_WAKEUP | XDP_COPY};
  int err = xsk_socket__create_shared(&anchor_->xsk, config_.ifname.c_str(), config_.queue,
                                      umem_->handle(), &anchor_->rx, &anchor_->tx, umem_->fill(),
                                      umem_->comp(), &cfg);
  if (err != 0) {
    anchor_->xsk = nullptr;
    return make_error(err, "bind the first AF_XDP socket on " + where(config_));
  }
  return {};
}

Engine::~Engine() {
  for (auto& s : sockets_)
    if (s != nullptr) (void)program_.clear_socket(config_.queue, s->slot);
  // Sockets before the anchor, the anchor before the UMEM.
  for (auto& s : sockets_) s.reset();
  anchor_.reset();
  umem_.reset();
}

Engine::Socket* Engine::socket(SlotId slot) const {
  return slot < sockets_.size() ? sockets_[slot].get() : nullptr;
}
bool Engine::slot_open(SlotId slot) const {
  return socket(slot) != nullptr;
}
int Engine::socket_fd(SlotId slot) const {
  return xsk_socket__fd(socket(slot)->xsk);
}
int Engine::anchor_fd() const {
  return xsk_socket__fd(anchor_->xsk);
}
const Endpoint& Engine::bound(SlotId slot) const {
  return socket(slot)->local;
}
const SocketCounters& Engine::counters(SlotId slot) const {
  return socket(slot)->counters;
}

Status Engine::open_socket(SlotId slot, const Endpoint& local, const SocketOptions& options) {
  std::lock_guard lock(control_mutex_);
  const std::string what = "udp port " + std::to_string(local.port) + " on " + where(config_);
  if (slot >= sockets_.size() || sockets_[slot] != nullptr)
    return make_error(EINVAL, "open socket slot " + std::to_string(slot) + " for " + what +
                                  ": slot out of range or in use");
  auto s = std::make_unique<Socket>();
  s->slot = slot;
  s->local = local;
  s->options = options;
  xsk_socket_config cfg{.rx_size = config_.rx_size,
                        .tx_size = config_.tx_size,
                        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
                        .xdp_flags = 0,
                        .bind_flags = 0};
  int err =
      xsk_socket__create_shared(&s->xsk, config_.ifname.c_str(), config_.queue, umem_->handle(),
                                &s->rx, &s->tx, umem_->fill(), umem_->comp(), &cfg);
  if (err != 0) {
    s->xsk = nullptr;
    return make_error(err, "create AF_XDP socket for " + what);
  }
  LRP_TRY(program_.set_socket(config_.queue, slot, xsk_socket__fd(s->xsk)));
  sockets_[slot] = std::move(s);
  return {};
}

void Engine::rebind(SlotId slot, const Endpoint& local) {
  std::lock_guard lock(control_mutex_);
  if (Socket* s = socket(slot)) s->local = local;
}

Status Engine::close_socket(SlotId slot) {
  std::lock_guard lock(control_mutex_);
  Socket* s = socket(slot);
  if (s == nullptr) return make_error(EBADF, "close slot " + std::to_string(slot) + ": not open");
  LRP_TRY(program_.clear_socket(config_.queue, slot));
  // A redirect already under way may still put a frame on the ring. XDP runs
  // in softirq, an RCU read-side section: one grace period (membarrier's
  // global command waits for one) and every such frame has landed.
  (void)syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
  // Frames still in its RX ring were filled from the pool: take them back.
  // The producer is read afresh: libxdp's cached count may be stale, and
  // frames past it would be lost with the ring.
  s->rx.cached_prod = __atomic_load_n(s->rx.producer, __ATOMIC_ACQUIRE);
  uint32_t idx = 0;
  const uint32_t n = xsk_ring_cons__peek(&s->rx, config_.rx_size, &idx);
  for (uint32_t i = 0; i < n; ++i) {
    const uint64_t addr = xsk_ring_cons__rx_desc(&s->rx, idx + i)->addr;
    if (pool_->received(addr, slot)) pool_->release(addr, slot);
  }
  xsk_ring_cons__release(&s->rx, n);
  // Frames still on its TX ring were never taken by the kernel and never
  // will be (a down or deleted device stops taking them): back to the pool.
  // In copy mode only our own kicks consume the ring, so it is still here.
  // Frames already taken complete on the shared completion ring as usual.
  const uint32_t tx_end = *s->tx.producer;
  for (uint32_t i = __atomic_load_n(s->tx.consumer, __ATOMIC_ACQUIRE); i != tx_end; ++i) {
    uint16_t owner = kNoOwner;
    (void)pool_->completed(xsk_ring_prod__tx_desc(&s->tx, i)->addr, &owner);
  }
  reclaim_completions();
  pool_->reclaim_owner(slot);
  sockets_[slot].reset();
  return {};
}

size_t Engine::rx_pending(SlotId slot) {
  Socket* s = socket(slot);
  if (s == nullptr) return 0;
  // libxdp's nb_avail looks at the producer again only once its cached view
  // is used up, so it would report a stale count while nobody consumes; the
  // shed rule needs the ring's real occupancy. (Consumer side only.)
  s->rx.cached_prod = __atomic_load_n(s->rx.producer, __ATOMIC_ACQUIRE);
  return s->rx.cached_prod - s->rx.cached_cons;
}

ProcessResult Engine::process(SlotId slot, std::span<Datagram> out) {
  ProcessResult r;
  Socket* s = socket(slot);
  if (s == nullptr) return r;
  const size_t held = pool_->held_by(slot);
  size_t room = held >= s->options.held_cap ? 0 : s->options.held_cap - held;
  size_t want = std::min(out.size(), room);
  if (want < out.size() && rx_pending(slot) > want) bump(s->counters.held_cap_reached);
  if (want == 0) return r;
  uint32_t idx = 0;
  const uint32_t n = xsk_ring_cons__peek(&s->rx, static_cast<uint32_t>(want), &idx);
  // One pool lock for the batch taken off the ring, one for the rejects.
  constexpr uint32_t kChunk = 256;
  uint64_t addrs[kChunk];
  bool moved[kChunk];
  for (uint32_t first = 0; first < n; first += kChunk) {
    const uint32_t count = std::min(kChunk, n - first);
    for (uint32_t i = 0; i < count; ++i)
      addrs[i] = xsk_ring_cons__rx_desc(&s->rx, idx + first + i)->addr;
    pool_->received_batch({addrs, count}, slot, moved);
    uint64_t rejected[kChunk];
    size_t n_rejected = 0;
    for (uint32_t i = 0; i < count; ++i) {
      if (!moved[i]) continue;  // counted by the pool as a violation
      const xdp_desc* desc = xsk_ring_cons__rx_desc(&s->rx, idx + first + i);
      const uint64_t base = pool_->frame_base(desc->addr);
      std::span<const uint8_t> frame(umem_->data(desc->addr), desc->len);
      ParseResult parsed = parse_udp_frame(frame, config_.parse);
      if (!parsed.ok()) {
        bump(s->counters.invalid[static_cast<size_t>(parsed.reason())]);
        rejected[n_rejected++] = base;
        continue;
      }
      out[r.delivered++] =
          Datagram{parsed.view(), base, slot, static_cast<uint16_t>(config_.queue)};
      bump(s->counters.delivered);
      bump(s->counters.delivered_bytes, parsed.view().payload.size());
    }
    if (n_rejected > 0) pool_->release_batch({rejected, n_rejected}, slot);
  }
  xsk_ring_cons__release(&s->rx, n);
  r.taken = n;
  if (n > 0) refill();
  return r;
}

void Engine::release(const Datagram& d) {
  release_frame(d.slot, d.frame);
}

void Engine::release(std::span<const Datagram> datagrams) {
  // Runs of the same socket go back under one pool lock.
  uint64_t frames[256];
  size_t i = 0;
  while (i < datagrams.size()) {
    const SlotId slot = datagrams[i].slot;
    size_t n = 0;
    while (i < datagrams.size() && datagrams[i].slot == slot && n < std::size(frames))
      frames[n++] = datagrams[i++].frame;
    pool_->release_batch({frames, n}, slot);
  }
}
void Engine::release_frame(SlotId slot, uint64_t frame) {
  pool_->release(frame, slot);
}

size_t Engine::refill() {
  std::unique_lock lock(fill_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return 0;  // someone else is refilling right now
  xsk_ring_prod* fill = umem_->fill();
  const uint32_t free_slots = xsk_prod_nb_free(fill, config_.umem.fill_size);
  if (free_slots == 0) return 0;
  uint64_t addrs[256];
  size_t total = 0;
  uint32_t remaining = free_slots;
  while (remaining > 0) {
    const size_t got = pool_->take_for_fill({addrs, std::min<size_t>(remaining, 256)});
    if (got == 0) break;
    uint32_t idx = 0;
    const uint32_t reserved = xsk_ring_prod__reserve(fill, static_cast<uint32_t>(got), &idx);
    for (uint32_t i = 0; i < reserved; ++i) *xsk_ring_prod__fill_addr(fill, idx + i) = addrs[i];
    xsk_ring_prod__submit(fill, reserved);
    if (reserved < got) pool_->return_unfilled({addrs + reserved, got - reserved});
    total += reserved;
    remaining -= static_cast<uint32_t>(got);
    if (reserved < got) break;
  }
  // With need-wakeup the driver may sleep until told the fill ring has room.
  if (total > 0 && xsk_ring_prod__needs_wakeup(fill))
    (void)recvfrom(anchor_fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
  return total;
}

size_t Engine::reclaim_completions() {
  std::unique_lock lock(comp_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return 0;
  xsk_ring_cons* comp = umem_->comp();
  uint32_t idx = 0;
  const uint32_t n = xsk_ring_cons__peek(comp, config_.umem.comp_size, &idx);
  for (uint32_t i = 0; i < n; ++i) {
    uint16_t owner = kNoOwner;
    // The completion ring is shared by all sockets: the pool knows the owner.
    if (pool_->completed(*xsk_ring_cons__comp_addr(comp, idx + i), &owner)) {
      Socket* s = socket(owner);
      if (s != nullptr) bump(s->counters.completed);
    }
  }
  xsk_ring_cons__release(comp, n);
  return n;
}

Result<IpAddress> Engine::source_for(const Socket& s, const Endpoint& to,
                                     const IpAddress* from) const {
  if (from != nullptr && !from->is_any()) return *from;
  if (!s.local.addr.is_any()) return s.local.addr;
  const auto addresses = addresses_.load(std::memory_order_acquire);
  for (const auto& a : *addresses)
    if (a.is_v4() == to.addr.is_v4()) return a;
  return make_error(EADDRNOTAVAIL, "send to " + to.addr.to_string() + ": " + config_.ifname +
                                       " has no address of that family");
}

Status Engine::send(SlotId slot, const Endpoint& to, std::span<const uint8_t> payload,
                    const IpAddress* from) {
  Socket* s = socket(slot);
  if (s == nullptr) return make_error(EBADF, "send on slot " + std::to_string(slot));
  const auto fail_busy = [&](const char* why) {
    bump(s->counters.send_would_block);
    return make_error(EAGAIN, std::string("send from port ") + std::to_string(s->local.port) +
                                  " on " + where(config_) + ": " + why);
  };
  if (pool_->tx_by(slot) >= s->options.tx_cap) {
    reclaim_completions();
    if (pool_->tx_by(slot) >= s->options.tx_cap) {
      const uint64_t completed = s->counters.completed.load(std::memory_order_relaxed);
      const int64_t now = steady_ns();
      if (s->tx_stalled_since_ns == 0 || completed != s->tx_stall_completed) {
        s->tx_stalled_since_ns = now;
        s->tx_stall_completed = completed;
      } else if (now - s->tx_stalled_since_ns > kTxStallNs) {
        bump(s->counters.send_would_block);
        return make_error(ETIMEDOUT, "send from port " + std::to_string(s->local.port) + " on " +
                                         where(config_) + ": no transmit completions for " +
                                         std::to_string((now - s->tx_stalled_since_ns) / 1000000) +
                                         " ms (link down or device gone?)");
      }
      return fail_busy("transmit budget in use (no completions yet)");
    }
  }
  if (xsk_prod_nb_free(&s->tx, 1) < 1) return fail_busy("TX ring full");
  auto source = source_for(*s, to, from);
  if (!source) return source.error();
  std::array<uint8_t, 6> dst_mac{};
  {
    std::lock_guard lock(neighbour_mutex_);
    auto mac = neighbours_.resolve(to.addr, ifindex_);
    if (!mac) return mac.error();
    dst_mac = mac.value();
  }
  FrameHeaderSpec spec{};
  spec.src_mac = mac_;
  spec.dst_mac = dst_mac;
  spec.source = Endpoint{source.value(), s->local.port};
  spec.destination = to;
  uint64_t addr = 0;
  if (!pool_->take_for_send(slot, &addr)) {
    reclaim_completions();
    if (!pool_->take_for_send(slot, &addr)) return fail_busy("no free frames");
  }
  auto len = build_udp_frame(umem_->frame(addr), spec, payload);
  if (!len) {
    pool_->release(addr, slot);
    return len.error();
  }
  uint32_t idx = 0;
  if (xsk_ring_prod__reserve(&s->tx, 1, &idx) != 1) {
    pool_->release(addr, slot);
    return fail_busy("TX ring full");
  }
  xdp_desc* desc = xsk_ring_prod__tx_desc(&s->tx, idx);
  desc->addr = addr;
  desc->len = static_cast<uint32_t>(len.value());
  desc->options = 0;
  pool_->submitted_for_tx(addr, slot);
  xsk_ring_prod__submit(&s->tx, 1);
  bump(s->counters.sent);
  bump(s->counters.sent_bytes, payload.size());
  return {};
}

Status Engine::flush(SlotId slot) {
  Socket* s = socket(slot);
  if (s == nullptr) return make_error(EBADF, "flush slot " + std::to_string(slot));
  // Copy mode transmits a bounded batch per kick: kick until the kernel has
  // taken everything or stops making progress.
  for (int round = 0; round < 64; ++round) {
    const uint32_t produced = *s->tx.producer;
    const uint32_t consumed = __atomic_load_n(s->tx.consumer, __ATOMIC_ACQUIRE);
    if (produced == consumed) break;
    if (sendto(xsk_socket__fd(s->xsk), nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0) {
      if (errno == EAGAIN || errno == EBUSY || errno == ENOBUFS) {
        reclaim_completions();
        continue;
      }
      return errno_error("kick transmit on port " + std::to_string(s->local.port) + " on " +
                         where(config_));
    }
  }
  reclaim_completions();
  return {};
}

Status Engine::enable_busy_poll(SlotId slot, uint32_t budget) {
  Socket* s = socket(slot);
  if (s == nullptr) return make_error(EBADF, "busy poll on slot " + std::to_string(slot));
  const int fd = xsk_socket__fd(s->xsk);
  const int one = 1;
  const int usecs = 20;
  const int budget_value = static_cast<int>(budget);
  const std::string what = "enable busy polling on port " + std::to_string(s->local.port);
  if (setsockopt(fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget_value, sizeof(budget_value)) != 0)
    return errno_error(what + " (needs CAP_NET_ADMIN)");
  s->busy_poll = true;
  return {};
}

Result<uint32_t> Engine::napi_id(SlotId slot) const {
  Socket* s = socket(slot);
  if (s == nullptr) return make_error(EBADF, "NAPI id of slot " + std::to_string(slot));
  uint32_t id = 0;
  socklen_t len = sizeof(id);
  if (getsockopt(xsk_socket__fd(s->xsk), SOL_SOCKET, SO_INCOMING_NAPI_ID, &id, &len) != 0)
    return errno_error("read the NAPI id of port " + std::to_string(s->local.port));
  return id;
}

void Engine::busy_poll(SlotId slot) {
  Socket* s = socket(slot);
  if (s != nullptr && s->busy_poll)
    (void)recvfrom(xsk_socket__fd(s->xsk), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
}

Result<xdp_statistics> Engine::kernel_stats(SlotId slot) const {
  Socket* s = socket(slot);
  if (s == nullptr) return make_error(EBADF, "statistics of slot " + std::to_string(slot));
  xdp_statistics stats{};
  socklen_t len = sizeof(stats);
  if (getsockopt(xsk_socket__fd(s->xsk), SOL_XDP, XDP_STATISTICS, &stats, &len) != 0)
    return errno_error("read XDP_STATISTICS of port " + std::to_string(s->local.port));
  return stats;
}

size_t Engine::fill_ring_entries() const {
  const xsk_ring_prod* fill = umem_->fill();
  // Read from other threads (metrics) while the engine writes: atomic loads.
  return __atomic_load_n(fill->producer, __ATOMIC_RELAXED) -
         __atomic_load_n(fill->consumer, __ATOMIC_ACQUIRE);
}

size_t Engine::rx_ring_entries(SlotId slot) const {
  Socket* s = socket(slot);
  if (s == nullptr) return 0;
  return __atomic_load_n(s->rx.producer, __ATOMIC_ACQUIRE) -
         __atomic_load_n(s->rx.consumer, __ATOMIC_RELAXED);
}

bool Engine::frames_accounted(std::string* why) {
  reclaim_completions();
  if (!pool_->consistent(why)) return false;
  size_t kernel_rx = fill_ring_entries() + xsk_cons_nb_avail(&anchor_->rx, config_.rx_size);
  for (auto& s : sockets_)
    if (s != nullptr) kernel_rx += rx_ring_entries(s->slot);
  const FrameCounts c = pool_->counts();
  if (kernel_rx != c.at(FramePlace::KernelRx)) {
    if (why != nullptr)
      *why = "pool says " + std::to_string(c.at(FramePlace::KernelRx)) +
             " frames are with the kernel for receive, the rings hold " + std::to_string(kernel_rx);
    return false;
  }
  return true;
}

}  // namespace lrp
