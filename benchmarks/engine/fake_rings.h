// AF_XDP rings laid out as the kernel lays them out, in ordinary memory,
// with the kernel's side played by two small functions: the engine's ring
// code runs on them unchanged, with no device and no system call.
#pragma once

#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include <cstdint>
#include <vector>

namespace lrp::bench {

struct RingMemory {
  alignas(64) uint32_t producer = 0;
  alignas(64) uint32_t consumer = 0;
  uint32_t flags = 0;
  uint32_t size = 0;
  std::vector<uint8_t> entries;
};

// Our side of a ring we produce into (fill, TX) or consume from (RX, completion).
void init_producer(xsk_ring_prod& ring, RingMemory& memory, uint32_t size, size_t entry_size);
void init_consumer(xsk_ring_cons& ring, RingMemory& memory, uint32_t size, size_t entry_size);

// The kernel receives up to n packets: takes frames from the fill ring and
// hands each back on the RX ring with `len` bytes at `offset` into it (the
// frames already hold the packet: copy mode's copy is the kernel's cost).
uint32_t kernel_receive(RingMemory& fill, RingMemory& rx, uint32_t n, uint32_t offset,
                        uint32_t len);
// The kernel transmits everything on the TX ring and completes it.
uint32_t kernel_transmit(RingMemory& tx, RingMemory& comp);

}  // namespace lrp::bench
