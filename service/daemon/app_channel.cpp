#include "service/daemon/app_channel.h"

#include <algorithm>
#include <cstring>
#include <mutex>

namespace lrp::service {

// A transmit entry's metadata, read once out of shared memory: the
// application may keep writing the entry while lrpd decides about it.
struct TxMeta {
  uint32_t socket_id, length;
  uint8_t src_addr[16], dst_addr[16];
  uint16_t src_port, dst_port;
  uint8_t family, flags;
};

static TxMeta read_meta(const EntryHeader& e) {
  TxMeta m;
  m.socket_id = e.socket_id;
  m.length = e.length;
  std::memcpy(m.src_addr, e.src_addr, 16);
  std::memcpy(m.dst_addr, e.dst_addr, 16);
  m.src_port = e.src_port;
  m.dst_port = e.dst_port;
  m.family = e.family;
  m.flags = e.flags;
  return m;
}

Result<std::unique_ptr<AppChannel>> AppChannel::create(uint32_t app_id,
                                                       const RegionGeometry& geometry,
                                                       uint64_t daemon_epoch,
                                                       uint32_t queue_bound) {
  std::unique_ptr<AppChannel> c(new AppChannel());
  auto region = Region::create(app_id, geometry, daemon_epoch);
  if (!region) return region.error();
  auto doorbell = make_doorbell();
  if (!doorbell) return doorbell.error();
  c->region_ = std::move(region.value());
  c->doorbell_ = std::move(doorbell.value());
  c->rx_ = &c->region_->rx();
  c->tx_ = &c->region_->tx();
  c->slot_payload_ = geometry.slot_payload;
  c->queue_bound_.store(std::clamp<uint32_t>(queue_bound, 1, geometry.rx_entries));
  return c;
}

AppChannel::~AppChannel() = default;

void AppChannel::set_binding(const TxBinding& binding) {
  std::unique_lock lock(bindings_mutex_);
  for (auto& b : bindings_) {
    if (b.socket_id == binding.socket_id) {
      b = binding;
      return;
    }
  }
  bindings_.push_back(binding);
}

void AppChannel::remove_binding(uint32_t socket_id) {
  std::unique_lock lock(bindings_mutex_);
  std::erase_if(bindings_, [&](const TxBinding& b) { return b.socket_id == socket_id; });
}

void AppChannel::detach(RegionState state) {
  region_->header().state.store(static_cast<uint32_t>(state), std::memory_order_release);
  ring_doorbell(doorbell_.daemon.get());
}

uint32_t AppChannel::reclaim(uint32_t session_id) {
  return rx_->reclaim_consumer_claims(session_id) + tx_->reclaim_producer_claims(session_id);
}

void AppChannel::heartbeat(uint64_t monotonic_ns) {
  region_->header().heartbeat_ns.store(monotonic_ns, std::memory_order_relaxed);
  mirror_counters();
}

void AppChannel::mirror_counters() {
  RegionHeader& h = region_->header();
  h.rx_ring_full.store(counters_.ring_full.load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
  h.tx_rejected.store(counters_.tx_rejected.load(std::memory_order_relaxed),
                      std::memory_order_relaxed);
  h.tx_dropped.store(counters_.tx_dropped.load(std::memory_order_relaxed),
                     std::memory_order_relaxed);
}

void AppChannel::drain_wake() {
  (void)drain_doorbell(doorbell_.daemon.get());
}

void AppChannel::settle(std::atomic<bool>& armed, bool raised) {
  if (!raised && armed.load(std::memory_order_acquire) &&
      armed.exchange(false, std::memory_order_acq_rel))
    (void)drain_doorbell(doorbell_.daemon.get());
}

static size_t room_in(const Ring& rx, uint32_t bound) {
  const uint32_t used = rx.occupancy();
  // An entry still held at the tail (a zero-copy view not handed back)
  // stops the ring there, whatever the count says.
  if (used >= bound || !rx.writable()) return 0;
  return bound - used;
}

size_t AppChannel::room() {
  const uint32_t bound = queue_bound_.load(std::memory_order_relaxed);
  const size_t r = room_in(*rx_, bound);
  if (r > 0) return r;
  // Full: the application rings when it makes room.
  settle(rx_armed_, rx_->producer_waiting());
  if (!rx_armed_.exchange(true, std::memory_order_acq_rel)) {
    rx_->set_producer_waiting();
    return room_in(*rx_, bound);  // room made while the flag went up
  }
  return 0;
}

bool AppChannel::transmit_pending() {
  if (tx_->readable()) return true;
  // Empty: the application rings when it queues something.
  settle(tx_armed_, tx_->consumer_waiting());
  if (!tx_armed_.exchange(true, std::memory_order_acq_rel)) {
    tx_->set_consumer_waiting();
    return tx_->readable();
  }
  return false;
}

size_t AppChannel::deliver(std::span<const Delivery> batch) {
  size_t n = 0;
  for (; n < batch.size(); ++n) {
    const Delivery& d = batch[n];
    RingSlot s;
    if (!rx_->claim_produce(&s, 0)) break;
    const DatagramView& v = *d.view;
    const size_t len = v.payload.size();
    const size_t copied = std::min<size_t>(len, slot_payload_);
    EntryHeader& e = *s.entry;
    e.time_ns = d.time_ns;
    e.socket_id = d.socket_tag;
    e.length = static_cast<uint32_t>(copied);
    e.datagram_length = static_cast<uint32_t>(len);
    std::memcpy(e.src_addr, v.source.addr.bytes().data(), 16);
    std::memcpy(e.dst_addr, v.destination.addr.bytes().data(), 16);
    e.src_port = v.source.port;
    e.dst_port = v.destination.port;
    e.family = v.source.addr.is_v4() ? 4 : 6;
    e.tos = d.tos;
    e.ttl = d.ttl;
    e.flags = copied < len ? kEntryTruncated : 0;
    e.queue = d.queue;
    e.ifindex = d.ifindex;
    std::memcpy(s.payload, v.payload.data(), copied);
    rx_->publish(s);
  }
  counters_.delivered.fetch_add(n, std::memory_order_relaxed);
  if (n < batch.size()) counters_.ring_full.fetch_add(batch.size() - n, std::memory_order_relaxed);
  return n;
}

void AppChannel::wake_if_waiting() {
  if (rx_->take_consumer_waiting()) ring_doorbell(doorbell_.daemon.get());
}

size_t AppChannel::drain_tx(TxOut& out, size_t budget) {
  size_t taken = 0;
  {
    std::shared_lock lock(bindings_mutex_);
    RingSlot s;
    while (taken < budget && tx_->claim_consume(&s, 0)) {
      transmit(out, read_meta(*s.entry), s.payload);
      tx_->release(s);
      ++taken;
    }
  }
  if (taken > 0 && tx_->take_producer_waiting()) ring_doorbell(doorbell_.daemon.get());
  return taken;
}

void AppChannel::transmit(TxOut& out, const TxMeta& meta, const uint8_t* payload) {
  auto drop = [&] { counters_.tx_dropped.fetch_add(1, std::memory_order_relaxed); };
  auto refuse = [&] { counters_.tx_rejected.fetch_add(1, std::memory_order_relaxed); };
  if ((meta.flags & kEntryAbandoned) != 0 || meta.length > slot_payload_ ||
      (meta.family != 4 && meta.family != 6))
    return drop();
  const TxBinding* b = nullptr;
  for (const auto& candidate : bindings_)
    if (candidate.socket_id == meta.socket_id) b = &candidate;
  // Not one of its sockets, or another source port: spoofing.
  if (b == nullptr || (meta.src_port != 0 && meta.src_port != b->port)) return refuse();
  IpAddress::Bytes dst_bytes;
  std::memcpy(dst_bytes.data(), meta.dst_addr, 16);
  const Endpoint to{IpAddress(dst_bytes), meta.dst_port};
  const uint8_t family = to.addr.is_v4() ? 4 : 6;
  if (family != meta.family || to.port == 0) return drop();
  if (family != b->family && !(b->dual_stack && family == 4)) return drop();
  std::optional<IpAddress> from;
  if ((meta.flags & kEntryHasSource) != 0) {
    IpAddress::Bytes src_bytes;
    std::memcpy(src_bytes.data(), meta.src_addr, 16);
    from = IpAddress(src_bytes);
    if (from->is_any()) {
      from.reset();
    } else if (from->is_v4() != to.addr.is_v4()) {
      return drop();
    } else if (!b->local.is_any() && *from != b->local) {
      return refuse();  // a bound socket sends from its address only
    }
  }
  // The interface: the one that owns the source address, else the route.
  const TxBinding::Handle* h = nullptr;
  if (from) {
    for (const auto& c : b->handles)
      if (c.family == family && out.is_local(c.iface, *from)) h = &c;
    if (h == nullptr) return refuse();  // not an address of any interface it is served on
  } else {
    const uint32_t iface = out.route(to.addr);
    for (const auto& c : b->handles)
      if (c.family == family && (h == nullptr || c.iface == iface)) h = &c;
    if (h == nullptr) return drop();
  }
  Status st = out.send(h->socket, to, std::span<const uint8_t>(payload, meta.length),
                       from ? &*from : (b->local.is_any() ? nullptr : &b->local));
  if (st.ok()) {
    counters_.tx_sent.fetch_add(1, std::memory_order_relaxed);
  } else {
    drop();
  }
}

}  // namespace lrp::service
