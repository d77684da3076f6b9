// The transmit half of a queue's protocol work on rings and a frame pool
// alone: frames built and put on a TX ring under one pool lock, and
// completed frames returned. The engine runs it on its AF_XDP rings, the
// engine microbenchmark on rings in ordinary memory.
#pragma once

#include <xdp/xsk.h>

#include <cstdint>
#include <span>

#include "lrp/frame_pool.h"
#include "lrp/udp_frame.h"

#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)  // linux/if_xdp.h from 6.6 on
#endif

namespace lrp {

struct TxQueue {
  xsk_ring_prod* tx = nullptr;  // the socket's TX ring
  FramePool* pool = nullptr;
  uint8_t* area = nullptr;  // the UMEM
  uint32_t frame_size = 0;
  bool multi_buffer = false;  // frames may span several descriptors
};

// One datagram ready to build: headers decided, checked with
// check_udp_frame against frame_capacity().
struct TxFrame {
  FrameHeaderSpec header;
  std::span<const uint8_t> payload;
};

// Bytes one datagram's frame may take: a UMEM frame, or (multi-buffer) the
// frames of a descriptor chain the kernel accepts.
inline constexpr uint32_t kMaxTxDescriptorsPerFrame = 17;  // MAX_SKB_FRAGS
inline size_t frame_capacity(const TxQueue& q) {
  return q.multi_buffer ? size_t{q.frame_size} * kMaxTxDescriptorsPerFrame : q.frame_size;
}
inline uint32_t descriptors_for(const TxQueue& q, size_t frame_len) {
  return frame_len <= q.frame_size ? 1 : static_cast<uint32_t>((frame_len - 1) / q.frame_size + 1);
}

// Builds frames[0..] into pool frames taken under one lock and submits them
// on the TX ring, stopping at the first that does not fit in `max_descs`
// descriptors, the ring or the pool. Returns how many datagrams went.
size_t transmit_frames(const TxQueue& q, uint16_t owner, std::span<const TxFrame> frames,
                       uint32_t max_descs);

// Returns the frames on a completion ring to the pool, one lock per chunk;
// on_owner(owner, n) is told how many frames each owner got back.
template <class OnOwner>
size_t reclaim_completed(xsk_ring_cons* comp, uint32_t comp_size, FramePool& pool,
                         OnOwner&& on_owner) {
  constexpr uint32_t kChunk = 256;
  uint32_t idx = 0;
  const uint32_t n = xsk_ring_cons__peek(comp, comp_size, &idx);
  uint64_t addrs[kChunk];
  uint16_t owners[kChunk];
  for (uint32_t first = 0; first < n; first += kChunk) {
    const uint32_t count = std::min(kChunk, n - first);
    for (uint32_t i = 0; i < count; ++i)
      addrs[i] = *xsk_ring_cons__comp_addr(comp, idx + first + i);
    pool.completed_batch({addrs, count}, owners);
    // Runs of one owner are the common case: one call per run.
    for (uint32_t i = 0; i < count;) {
      uint32_t j = i + 1;
      while (j < count && owners[j] == owners[i]) ++j;
      if (owners[i] != kNoOwner) on_owner(owners[i], j - i);
      i = j;
    }
  }
  xsk_ring_cons__release(comp, n);
  return n;
}

}  // namespace lrp
