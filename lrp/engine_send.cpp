// The engine's send side: batches of datagrams built into UMEM frames and
// put on a socket's TX ring under one frame-pool lock with one kick; next
// hops from the socket's own cache or the interface's resolver; datagrams
// for an unresolved neighbour handed to the resolver's queue; completions
// returned to the pool.
#include <sys/socket.h>

#include <chrono>
#include <cstring>

#include "lrp/engine.h"
#include "lrp/engine_socket.h"
#include "lrp/tx_batch.h"

namespace lrp {

namespace {

// A full transmit budget with no completion for this long means the kernel
// stopped transmitting (link down, device gone): sends then fail with
// ETIMEDOUT instead of EAGAIN, so a caller that retries on EAGAIN stops.
constexpr int64_t kTxStallNs = 1'000'000'000;
// Datagrams built per pass (one pool lock, one ring publication).
constexpr size_t kChunk = 64;
// Room for a chunk of frames to build, left uninitialised: a send of one
// datagram must not pay for clearing 64.
union FrameChunk {
  FrameChunk() {}
  TxFrame frames[kChunk];
};

// Kicks the resolver's thread makes for datagrams that waited before it
// gives up on a ring that does not drain (the rest are dropped, counted).
constexpr int kWaitingKickRounds = 64;

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

size_t ip_packet_size(const IpAddress& a, size_t payload) {
  return (a.is_v4() ? 20 : 40) + 8 + payload;
}

std::string port_on(const Endpoint& local, const std::string& where) {
  return "send from port " + std::to_string(local.port) + " on " + where;
}

}  // namespace

size_t Engine::reclaim_completions() {
  std::unique_lock lock(comp_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return 0;
  // The completion ring is shared by all sockets: the pool knows the owner.
  return reclaim_completed(umem_->comp(), config_.umem.comp_size, *pool_,
                           [&](uint16_t owner, uint32_t n) {
                             if (Socket* s = socket(owner)) bump(s->counters.completed, n);
                           });
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

// Caller holds s.tx_mutex. OK when the socket may put frames in flight.
Status Engine::tx_budget_check(Socket& s) {
  if (pool_->tx_by(s.slot) < s.options.tx_cap) return {};
  reclaim_completions();
  if (pool_->tx_by(s.slot) < s.options.tx_cap) return {};
  const std::string where = config_.ifname + " queue " + std::to_string(config_.queue);
  bump(s.counters.send_would_block);
  const uint64_t completed = s.counters.completed.load(std::memory_order_relaxed);
  const int64_t now = steady_ns();
  if (s.tx_stalled_since_ns == 0 || completed != s.tx_stall_completed) {
    s.tx_stalled_since_ns = now;
    s.tx_stall_completed = completed;
  } else if (now - s.tx_stalled_since_ns > kTxStallNs) {
    return make_error(ETIMEDOUT, port_on(s.local, where) + ": no transmit completions for " +
                                     std::to_string((now - s.tx_stalled_since_ns) / 1000000) +
                                     " ms (link down or device gone?)");
  }
  return make_error(EAGAIN,
                    port_on(s.local, where) + ": transmit budget in use (no completions yet)");
}

// Caller holds s.tx_mutex. Returns how many datagrams of batch were taken.
Result<size_t> Engine::send_locked(Socket& s, std::span<const OutDatagram> batch, int64_t now_ns) {
  // Messages only: built when an error needs one.
  const auto sending = [&] {
    return port_on(s.local, config_.ifname + " queue " + std::to_string(config_.queue));
  };
  SlotWaits& waits = waits_[s.slot];
  if (waits.pending_error.load(std::memory_order_relaxed) != 0) {
    if (const int e = waits.pending_error.exchange(0); e != 0) {
      IpAddress failed;
      {
        std::lock_guard lock(waits.failed_mutex);
        failed = waits.failed;
      }
      return make_error(e, sending() + ": an earlier datagram to " + failed.to_string() +
                               " was dropped, its next hop did not answer ARP or NDP");
    }
  }
  const TxQueue q{&s.tx, pool_.get(), umem_->data(0), config_.umem.frame_size, multi_buffer_};
  const size_t capacity = frame_capacity(q);
  const uint64_t generation = neighbours_->generation();
  FrameChunk chunk;
  TxFrame* const frames = chunk.frames;
  size_t n_frames = 0;
  size_t chunk_first = 0;  // batch index of frames[0]
  size_t taken = 0;
  std::optional<Error> stop;

  // Sends what is gathered; false when not all of it went (the batch ends).
  const auto send_gathered = [&]() -> bool {
    if (n_frames == 0) return true;
    const size_t budget =
        s.options.tx_cap - std::min<size_t>(s.options.tx_cap, pool_->tx_by(s.slot));
    const size_t sent =
        transmit_frames(q, s.slot, {frames, n_frames}, static_cast<uint32_t>(budget));
    for (size_t i = 0; i < sent; ++i) {
      bump(s.counters.sent);
      bump(s.counters.sent_bytes, frames[i].payload.size());
    }
    taken = chunk_first + sent;
    const bool all = sent == n_frames;
    if (!all) {
      // The first datagram not taken is a gathered one: its error is EAGAIN.
      bump(s.counters.send_would_block);
      const bool ring_full = xsk_prod_nb_free(&s.tx, 1) == 0;
      const bool budget_full = pool_->tx_by(s.slot) >= s.options.tx_cap;
      stop = make_error(EAGAIN, sending() + (ring_full     ? ": TX ring full"
                                             : budget_full ? ": transmit budget in use"
                                                           : ": no free frames"));
    }
    n_frames = 0;
    return all;
  };

  if (auto room = tx_budget_check(s); !room) return room.error();
  for (size_t i = 0; i < batch.size(); ++i) {
    const OutDatagram& d = batch[i];
    if (n_frames == 0) chunk_first = i;
    if (d.to.port == 0 || d.to.addr.is_any()) {
      stop = make_error(EINVAL, sending() + " to " + d.to.to_string() + ": no such destination");
      break;
    }
    auto source = source_for(s, d.to, d.from ? &*d.from : nullptr);
    if (!source) {
      stop = source.error();
      break;
    }
    // The next hop: the socket's last one, or the resolver's.
    PathInfo path;
    std::optional<NextHop> unresolved;
    if (s.path_valid && s.path_dst == d.to.addr && s.path.generation == generation &&
        now_ns < s.path.expires_ns) {
      path = s.path;
    } else {
      auto answer = neighbours_->lookup(d.to.addr, now_ns);
      if (!answer) {
        stop = answer.error();
        break;
      }
      path = answer->path;
      if (answer->ready) {
        s.path_valid = true;
        s.path_dst = d.to.addr;
        s.path = path;
      } else {
        unresolved = answer->hop;
      }
    }
    const size_t ip_size = ip_packet_size(d.to.addr, d.payload.size());
    if (ip_size > path.mtu) {
      stop = make_error(EMSGSIZE, sending() + " to " + d.to.to_string() + ": an IP packet of " +
                                      std::to_string(ip_size) + " bytes is above the path MTU of " +
                                      std::to_string(path.mtu) +
                                      "; the kernel socket can send it (it fragments)");
      break;
    }
    FrameHeaderSpec spec{};
    spec.src_mac = mac_;
    spec.dst_mac = path.mac;
    spec.source = Endpoint{source.value(), s.local.port};
    spec.destination = d.to;
    if (auto fits = check_udp_frame(spec, d.payload.size(), capacity); !fits) {
      stop = fits.error();
      break;
    }
    if (unresolved) {
      // What was gathered goes first, so that "the first n were taken" holds.
      if (!send_gathered()) break;
      WaitingDatagram w{this,    s.slot,
                        s.epoch, spec.source,
                        d.to,    std::vector<uint8_t>(d.payload.begin(), d.payload.end())};
      auto mac = neighbours_->wait(*unresolved, w);
      if (!mac) {
        bump(s.counters.neighbour_waited);
        taken = i + 1;
        continue;
      }
      spec.dst_mac = *mac;  // answered meanwhile: send it like any other
    }
    frames[n_frames++] = TxFrame{spec, d.payload};
    if (n_frames == kChunk && !send_gathered()) break;
  }
  (void)send_gathered();
  if (taken == 0 && stop) return *stop;
  return taken;
}

Result<size_t> Engine::send_batch(SlotId slot, std::span<const OutDatagram> batch, Kick kick) {
  Socket* s = socket(slot);
  if (s == nullptr) return make_error(EBADF, "send on slot " + std::to_string(slot));
  if (batch.empty()) return size_t{0};
  Result<size_t> r = size_t{0};
  {
    std::lock_guard lock(s->tx_mutex);
    r = send_locked(*s, batch, steady_ns());
    if (!r && r.error().code == EAGAIN && kick == Kick::Now) {
      // Completions may be waiting and the kernel may not have been kicked.
      (void)flush(slot);
      r = send_locked(*s, batch, steady_ns());
    }
  }
  if (kick == Kick::Now && (r.ok() && r.value() > 0)) LRP_TRY(flush(slot));
  return r;
}

Status Engine::send(SlotId slot, const Endpoint& to, std::span<const uint8_t> payload,
                    const IpAddress* from) {
  OutDatagram d{to, payload, std::nullopt};
  if (from != nullptr) d.from = *from;
  auto r = send_batch(slot, {&d, 1}, Kick::Later);
  if (!r) return r.error();
  return {};
}

Status Engine::flush(SlotId slot) {
  Socket* s = socket(slot);
  if (s == nullptr) return make_error(EBADF, "flush slot " + std::to_string(slot));
  // Copy mode transmits a bounded batch per kick: kick until the kernel has
  // taken everything or stops making progress.
  for (int round = 0; round < 64; ++round) {
    const uint32_t produced = __atomic_load_n(s->tx.producer, __ATOMIC_ACQUIRE);
    const uint32_t consumed = __atomic_load_n(s->tx.consumer, __ATOMIC_ACQUIRE);
    if (produced == consumed) break;
    if (sendto(xsk_socket__fd(s->xsk), nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0) {
      if (errno == EAGAIN || errno == EBUSY || errno == ENOBUFS) {
        reclaim_completions();
        continue;
      }
      return errno_error("kick transmit on port " + std::to_string(s->local.port) + " on " +
                         config_.ifname + " queue " + std::to_string(config_.queue));
    }
  }
  reclaim_completions();
  return {};
}

uint64_t Engine::neighbour_drops(SlotId slot) const {
  return slot < waits_.size() ? waits_[slot].dropped.load(std::memory_order_relaxed) : 0;
}

// From the resolver's thread: the neighbour answered. The control lock keeps
// the sockets from closing meanwhile; the socket's TX lock makes this its
// ring's producer for a moment.
void Engine::send_waiting(std::span<WaitingDatagram> datagrams, const MacAddress& mac) {
  std::lock_guard control(control_mutex_);
  const TxQueue q{nullptr, pool_.get(), umem_->data(0), config_.umem.frame_size, multi_buffer_};
  size_t i = 0;
  while (i < datagrams.size()) {
    const SlotId slot = datagrams[i].slot;
    const uint32_t epoch = datagrams[i].epoch;
    size_t end = i;
    while (end < datagrams.size() && datagrams[end].slot == slot && datagrams[end].epoch == epoch)
      ++end;
    Socket* s = socket(slot);
    if (s == nullptr || s->epoch != epoch) {  // the socket closed meanwhile
      i = end;
      continue;
    }
    std::lock_guard tx(s->tx_mutex);
    TxQueue sq = q;
    sq.tx = &s->tx;
    int idle_rounds = 0;
    while (i < end && idle_rounds < kWaitingKickRounds) {
      FrameChunk chunk;
      TxFrame* const frames = chunk.frames;
      size_t n = 0;
      for (size_t k = i; k < end && n < kChunk; ++k) {
        FrameHeaderSpec spec{};
        spec.src_mac = mac_;
        spec.dst_mac = mac;
        spec.source = datagrams[k].source;
        spec.destination = datagrams[k].destination;
        frames[n++] = TxFrame{spec, datagrams[k].payload};
      }
      const size_t budget =
          s->options.tx_cap - std::min<size_t>(s->options.tx_cap, pool_->tx_by(slot));
      const size_t sent = transmit_frames(sq, slot, {frames, n}, static_cast<uint32_t>(budget));
      for (size_t k = 0; k < sent; ++k) {
        bump(s->counters.sent);
        bump(s->counters.sent_bytes, frames[k].payload.size());
      }
      i += sent;
      idle_rounds = sent > 0 ? 0 : idle_rounds + 1;
      (void)flush(slot);
    }
    if (i < end) {
      // The ring did not drain: what is left goes the way of a full qdisc.
      waits_[slot].dropped.fetch_add(end - i, std::memory_order_relaxed);
      i = end;
    }
  }
}

void Engine::set_error_reports(SlotId slot, bool on) {
  if (slot < waits_.size()) waits_[slot].report.store(on, std::memory_order_relaxed);
}

// From any thread; touches only the slot's own state (no socket, no lock
// but the innermost one for the address).
void Engine::drop_waiting(const WaitingDatagram& d, int error) {
  SlotWaits& w = waits_[d.slot];
  if (w.epoch.load(std::memory_order_acquire) != d.epoch) return;
  w.dropped.fetch_add(1, std::memory_order_relaxed);
  // The kernel turns a failed resolution into a local ICMP host unreachable,
  // a soft error a UDP socket hears only with IP_RECVERR; an overflow it
  // reports to nobody.
  if (error != EHOSTUNREACH || !w.report.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard lock(w.failed_mutex);
    w.failed = d.destination.addr;
  }
  w.pending_error.store(EHOSTUNREACH, std::memory_order_release);
}

}  // namespace lrp
