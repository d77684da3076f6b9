#include "lrp/rx_batch.h"

#include <cstring>

#include "lrp/tx_batch.h"  // XDP_PKT_CONTD

namespace lrp {

namespace {

constexpr uint32_t kMaxDescs = 256;

bool continues(const xsk_ring_cons* rx, uint32_t idx) {
  return (xsk_ring_cons__rx_desc(rx, idx)->options & XDP_PKT_CONTD) != 0;
}

// Copies the fragments of one packet into a large buffer and parses it
// there. Returns true when a datagram went to *out.
bool take_multi(const RxQueue& q, SlotId slot, SocketCounters& counters, uint32_t idx,
                uint32_t count, Datagram* out) {
  auto index = q.large->take(slot);
  if (!index) {
    bump(counters.large_no_buffer);
    return false;
  }
  const std::span<uint8_t> buffer = q.large->buffer(*index);
  size_t length = 0;
  bool truncated = false;
  for (uint32_t i = 0; i < count; ++i) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(q.rx, idx + i);
    if (length + d->len > buffer.size()) {
      truncated = true;
      break;
    }
    std::memcpy(buffer.data() + length, q.area + d->addr, d->len);
    length += d->len;
  }
  ParseResult parsed = truncated ? ParseResult(DropReason::Truncated)
                                 : parse_udp_frame(buffer.first(length), q.parse);
  if (!parsed.ok()) {
    bump(counters.invalid[static_cast<size_t>(parsed.reason())]);
    q.large->give_back(*index, slot);
    return false;
  }
  *out = Datagram{parsed.view(), kLargeBufferFrame | *index, slot, q.queue};
  if (parsed.partial_checksum()) bump(counters.partial_checksum);
  return true;
}

}  // namespace

ProcessResult receive_batch(const RxQueue& q, SlotId slot, SocketCounters& counters,
                            std::span<Datagram> out, uint32_t max_descs) {
  ProcessResult r;
  max_descs = std::min<uint32_t>({max_descs, kMaxDescs, static_cast<uint32_t>(out.size())});
  if (max_descs == 0) return r;
  uint32_t idx = 0;
  uint32_t n = xsk_ring_cons__peek(q.rx, max_descs, &idx);
  if (n == 0) return r;
  if (q.large != nullptr) {
    // The kernel publishes whole packets; our limit may have cut the last
    // one. Finish it if there is room, else leave it for the next call.
    uint32_t more = 0;
    while (n < kMaxDescs && continues(q.rx, idx + n - 1) &&
           xsk_ring_cons__peek(q.rx, 1, &more) == 1)
      ++n;
    uint32_t whole = n;
    while (whole > 0 && continues(q.rx, idx + whole - 1)) --whole;
    if (whole < n) xsk_ring_cons__cancel(q.rx, n - whole);
    n = whole;
    if (n == 0) return r;
  }
  uint64_t addrs[kMaxDescs];
  bool moved[kMaxDescs];
  for (uint32_t i = 0; i < n; ++i) addrs[i] = xsk_ring_cons__rx_desc(q.rx, idx + i)->addr;
  // One pool lock for the frames taken off the ring, one for those freed.
  q.pool->received_batch({addrs, n}, slot, moved);
  uint64_t freed[kMaxDescs];
  size_t n_freed = 0;
  for (uint32_t i = 0; i < n;) {
    uint32_t count = 1;
    if (q.large != nullptr)
      while (i + count < n && continues(q.rx, idx + i + count - 1)) ++count;
    bool all_moved = true;
    for (uint32_t k = 0; k < count; ++k) all_moved = all_moved && moved[i + k];
    if (count > 1) {
      // The fragments' frames go back at once, whatever became of the copy.
      for (uint32_t k = 0; k < count; ++k)
        if (moved[i + k]) freed[n_freed++] = addrs[i + k];
      if (all_moved && take_multi(q, slot, counters, idx + i, count, &out[r.delivered])) {
        bump(counters.delivered);
        bump(counters.delivered_bytes, out[r.delivered].view.payload.size());
        ++r.delivered;
      }
      i += count;
      continue;
    }
    if (!moved[i]) {  // counted by the pool as a violation
      ++i;
      continue;
    }
    const xdp_desc* desc = xsk_ring_cons__rx_desc(q.rx, idx + i);
    const uint64_t base = q.pool->frame_base(desc->addr);
    ParseResult parsed = parse_udp_frame({q.area + desc->addr, desc->len}, q.parse);
    if (!parsed.ok()) {
      bump(counters.invalid[static_cast<size_t>(parsed.reason())]);
      freed[n_freed++] = base;
    } else {
      out[r.delivered++] = Datagram{parsed.view(), base, slot, q.queue};
      bump(counters.delivered);
      if (parsed.partial_checksum()) bump(counters.partial_checksum);
      bump(counters.delivered_bytes, parsed.view().payload.size());
    }
    ++i;
  }
  if (n_freed > 0) q.pool->release_batch({freed, n_freed}, slot);
  xsk_ring_cons__release(q.rx, n);
  r.taken = n;
  return r;
}

size_t fill_from_pool(xsk_ring_prod* fill, uint32_t fill_size, FramePool& pool) {
  const uint32_t free_slots = xsk_prod_nb_free(fill, fill_size);
  if (free_slots == 0) return 0;
  uint64_t addrs[256];
  size_t total = 0;
  uint32_t remaining = free_slots;
  while (remaining > 0) {
    const size_t got = pool.take_for_fill({addrs, std::min<size_t>(remaining, 256)});
    if (got == 0) break;
    uint32_t idx = 0;
    const uint32_t reserved = xsk_ring_prod__reserve(fill, static_cast<uint32_t>(got), &idx);
    for (uint32_t i = 0; i < reserved; ++i) *xsk_ring_prod__fill_addr(fill, idx + i) = addrs[i];
    xsk_ring_prod__submit(fill, reserved);
    if (reserved < got) pool.return_unfilled({addrs + reserved, got - reserved});
    total += reserved;
    remaining -= static_cast<uint32_t>(got);
    if (reserved < got) break;
  }
  return total;
}

}  // namespace lrp
