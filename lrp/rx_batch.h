// The receive half of a queue's protocol work on rings and a frame pool
// alone, with no device behind them: the engine runs it on its AF_XDP
// rings, the engine microbenchmark on rings in ordinary memory.
#pragma once

#include <xdp/xsk.h>

#include <cstdint>
#include <span>

#include "lrp/engine.h"
#include "lrp/frame_pool.h"
#include "lrp/large_buffers.h"
#include "lrp/udp_frame.h"

namespace lrp {

struct RxQueue {
  xsk_ring_cons* rx = nullptr;  // the socket's RX ring
  FramePool* pool = nullptr;
  uint8_t* area = nullptr;  // the UMEM
  ParseOptions parse;
  LargeBuffers* large = nullptr;  // null: no multi-buffer frames expected
  uint16_t queue = 0;
};

// Takes whole packets (up to max_descs descriptors) from the RX ring,
// validates each, writes the good datagrams to out (held by `slot` until
// released) and counts and frees the bad ones. A packet of several
// descriptors (XDP_PKT_CONTD) is copied into a large buffer and its frames
// freed. Never takes more datagrams than out holds.
ProcessResult receive_batch(const RxQueue& q, SlotId slot, SocketCounters& counters,
                            std::span<Datagram> out, uint32_t max_descs);

// Tops up a fill ring from free frames; returns how many went in.
size_t fill_from_pool(xsk_ring_prod* fill, uint32_t fill_size, FramePool& pool);

}  // namespace lrp
