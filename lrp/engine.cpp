#include "lrp/engine.h"

#include <arpa/inet.h>
#include <linux/if_xdp.h>
#include <linux/membarrier.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "lrp/engine_socket.h"
#include "lrp/netdev.h"
#include "lrp/rx_batch.h"
#include "lrp/tx_batch.h"

#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)  // linux/if_xdp.h from 6.6 on
#endif

namespace lrp {

static std::string where(const EngineConfig& c) {
  return c.ifname + " queue " + std::to_string(c.queue);
}

Engine::Engine(XdpProgram& program, ShedVotes& shed) : program_(program), shed_(shed) {}

Result<std::unique_ptr<Engine>> Engine::open(const EngineConfig& config, XdpProgram& program,
                                             ShedVotes& shed, const InterfaceInfo& info,
                                             std::shared_ptr<NeighbourResolver> neighbours) {
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
  LRP_TRY(e->check_mtu(info));
  if (neighbours == nullptr) {
    auto opened = NeighbourResolver::open(info);
    if (!opened) return opened.error();
    neighbours = std::move(opened.value());
  }
  e->neighbours_ = std::move(neighbours);
  auto umem = Umem::create(config.umem);
  if (!umem) return umem.error();
  e->umem_ = std::move(umem.value());
  e->pool_ =
      std::make_unique<FramePool>(config.umem.frame_count, config.umem.frame_size, LRP_MAX_SLOTS);
  if (e->multi_buffer_) {
    // Room for the largest frame the MTU allows, in whole cache lines.
    const uint32_t size = (info.mtu + kL2Overhead + 63) / 64 * 64;
    e->large_ = std::make_unique<LargeBuffers>(config.large_buffers, size, LRP_MAX_SLOTS);
  }
  LRP_TRY(e->open_anchor());
  e->refill();
  return e;
}

// Frames that do not fit a UMEM frame need multi-buffer; without it the
// kernel would drop every larger frame, so lrp refuses to start instead.
Status Engine::check_mtu(const InterfaceInfo& info) {
  const uint32_t frame = config_.umem.frame_size;
  const uint32_t limit = max_single_frame_mtu(frame);
  multi_buffer_ = false;
  if (info.mtu <= limit) return {};
  const std::string what = "serve " + where(config_) + ": its MTU of " + std::to_string(info.mtu) +
                           " bytes makes frames of " + std::to_string(info.mtu + kL2Overhead) +
                           " bytes, more than one UMEM frame of " + std::to_string(frame) +
                           " bytes takes in copy mode (" +
                           std::to_string(rx_frame_capacity(frame)) + " bytes: MTU " +
                           std::to_string(limit) + " at most)";
  if (config_.multi_buffer == MultiBuffer::Off)
    return make_error(EMSGSIZE, what + ", and multi-buffer AF_XDP (XDP_USE_SG) is switched off." +
                                    " Lower the MTU (ip link set dev " + config_.ifname + " mtu " +
                                    std::to_string(limit) + ") or let lrp use multi-buffer frames");
  const uint32_t tx_limit = frame * kMaxTxDescriptorsPerFrame - kL2Overhead;
  if (info.mtu > tx_limit)
    return make_error(EMSGSIZE, what + ", and even multi-buffer frames of " +
                                    std::to_string(kMaxTxDescriptorsPerFrame) +
                                    " descriptors hold MTU " + std::to_string(tx_limit) +
                                    " at most. Lower the MTU (ip link set dev " + config_.ifname +
                                    " mtu " + std::to_string(tx_limit) + ")");
  multi_buffer_ = true;
  return {};
}

void Engine::set_addresses(std::vector<IpAddress> addresses) {
  addresses_.store(std::make_shared<const std::vector<IpAddress>>(std::move(addresses)));
}

// The first socket of a UMEM owns the fill and completion rings and the bind
// flags; later sockets share them. A socket with no flows keeps that role for
// the engine's whole life, so application sockets can come and go freely.
// Multi-buffer is a property of the UMEM: the first socket asks for it and
// every later one (XDP_SHARED_UMEM) inherits it.
Status Engine::open_anchor() {
  anchor_ = std::make_unique<Socket>();
  const uint16_t sg = multi_buffer_ ? XDP_USE_SG : 0;
  xsk_socket_config cfg{.rx_size = config_.rx_size,
                        .tx_size = config_.tx_size,
                        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
                        .xdp_flags = 0,
                        .bind_flags = static_cast<uint16_t>(XDP_USE_NEED_WAKEUP | XDP_COPY | sg)};
  int err = xsk_socket__create_shared(&anchor_->xsk, config_.ifname.c_str(), config_.queue,
                                      umem_->handle(), &anchor_->rx, &anchor_->tx, umem_->fill(),
                                      umem_->comp(), &cfg);
  if (err != 0) {
    anchor_->xsk = nullptr;
    const int code = err < 0 ? -err : err;
    if (multi_buffer_ && (code == EINVAL || code == EOPNOTSUPP)) {
      const uint32_t limit = max_single_frame_mtu(config_.umem.frame_size);
      return make_error(code, "serve " + where(config_) +
                                  ": its MTU needs frames larger than a UMEM frame, and the "
                                  "kernel or driver refused multi-buffer AF_XDP (XDP_USE_SG; "
                                  "Linux 6.6 or later, and driver support in zero-copy mode). "
                                  "Lower the MTU to " +
                                  std::to_string(limit) + " (ip link set dev " + config_.ifname +
                                  " mtu " + std::to_string(limit) +
                                  ") or use a kernel and driver with AF_XDP multi-buffer");
    }
    return make_error(err, "bind the first AF_XDP socket on " + where(config_));
  }
  return {};
}

Engine::~Engine() {
  // No datagram waiting for a neighbour reaches this engine from now on.
  if (neighbours_ != nullptr) neighbours_->detach(this);
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
  s->epoch = next_epoch_++;
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
  SlotWaits& w = waits_[slot];
  w.pending_error.store(0, std::memory_order_relaxed);
  w.dropped.store(0, std::memory_order_relaxed);
  w.report.store(options.report_errors, std::memory_order_relaxed);
  w.epoch.store(s->epoch, std::memory_order_release);
  sockets_[slot] = std::move(s);
  return {};
}

void Engine::rebind(SlotId slot, const Endpoint& local) {
  std::lock_guard lock(control_mutex_);
  Socket* s = socket(slot);
  if (s == nullptr) return;
  std::lock_guard tx(s->tx_mutex);
  s->local = local;
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
  if (large_ != nullptr) large_->reclaim_owner(slot);
  // Datagrams of this socket still waiting for a neighbour are dropped
  // uncounted when their turn comes: the epoch no longer matches.
  waits_[slot].epoch.store(0, std::memory_order_release);
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
  Socket* s = socket(slot);
  if (s == nullptr) return {};
  const size_t held = pool_->held_by(slot) + (large_ != nullptr ? large_->held_by(slot) : 0);
  const size_t room = held >= s->options.held_cap ? 0 : s->options.held_cap - held;
  const size_t want = std::min(out.size(), room);
  if (want < out.size() && rx_pending(slot) > want) bump(s->counters.held_cap_reached);
  if (want == 0) return {};
  const RxQueue q{&s->rx,        pool_.get(),  umem_->data(0),
                  config_.parse, large_.get(), static_cast<uint16_t>(config_.queue)};
  ProcessResult r;
  // A batch takes at most 256 descriptors; go on while the ring has more.
  while (r.delivered < want) {
    const ProcessResult step =
        receive_batch(q, slot, s->counters, out.subspan(r.delivered, want - r.delivered),
                      static_cast<uint32_t>(want - r.delivered));
    r.taken += step.taken;
    r.delivered += step.delivered;
    if (step.taken == 0 || step.taken < 256) break;
  }
  if (r.taken > 0) refill();
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
    for (; i < datagrams.size() && datagrams[i].slot == slot && n < std::size(frames); ++i) {
      if ((datagrams[i].frame & kLargeBufferFrame) != 0)
        release_frame(slot, datagrams[i].frame);
      else
        frames[n++] = datagrams[i].frame;
    }
    if (n > 0) pool_->release_batch({frames, n}, slot);
  }
}
void Engine::release_frame(SlotId slot, uint64_t frame) {
  if ((frame & kLargeBufferFrame) != 0) {
    if (large_ != nullptr) (void)large_->give_back(static_cast<uint32_t>(frame), slot);
    return;
  }
  pool_->release(frame, slot);
}

size_t Engine::refill() {
  std::unique_lock lock(fill_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return 0;  // someone else is refilling right now
  xsk_ring_prod* fill = umem_->fill();
  const size_t total = fill_from_pool(fill, config_.umem.fill_size, *pool_);
  // With need-wakeup the driver may sleep until told the fill ring has room.
  if (total > 0 && xsk_ring_prod__needs_wakeup(fill))
    (void)recvfrom(anchor_fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
  return total;
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
