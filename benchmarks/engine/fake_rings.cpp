#include "fake_rings.h"

#include <algorithm>

namespace lrp::bench {

void init_producer(xsk_ring_prod& ring, RingMemory& memory, uint32_t size, size_t entry_size) {
  memory.size = size;
  memory.entries.assign(size_t{size} * entry_size, 0);
  ring.mask = size - 1;
  ring.size = size;
  ring.producer = &memory.producer;
  ring.consumer = &memory.consumer;
  ring.ring = memory.entries.data();
  ring.flags = &memory.flags;
  ring.cached_prod = memory.producer;
  ring.cached_cons = memory.consumer + size;  // as libxdp keeps it
}

void init_consumer(xsk_ring_cons& ring, RingMemory& memory, uint32_t size, size_t entry_size) {
  memory.size = size;
  memory.entries.assign(size_t{size} * entry_size, 0);
  ring.mask = size - 1;
  ring.size = size;
  ring.producer = &memory.producer;
  ring.consumer = &memory.consumer;
  ring.ring = memory.entries.data();
  ring.flags = &memory.flags;
  ring.cached_prod = memory.producer;
  ring.cached_cons = memory.consumer;
}

uint32_t kernel_receive(RingMemory& fill, RingMemory& rx, uint32_t n, uint32_t offset,
                        uint32_t len) {
  const auto* addrs = reinterpret_cast<const uint64_t*>(fill.entries.data());
  auto* descs = reinterpret_cast<xdp_desc*>(rx.entries.data());
  const uint32_t filled = __atomic_load_n(&fill.producer, __ATOMIC_ACQUIRE) - fill.consumer;
  const uint32_t room = rx.size - (rx.producer - __atomic_load_n(&rx.consumer, __ATOMIC_ACQUIRE));
  n = std::min({n, filled, room});
  for (uint32_t i = 0; i < n; ++i) {
    xdp_desc& d = descs[(rx.producer + i) & (rx.size - 1)];
    d.addr = addrs[(fill.consumer + i) & (fill.size - 1)] + offset;
    d.len = len;
    d.options = 0;
  }
  __atomic_store_n(&fill.consumer, fill.consumer + n, __ATOMIC_RELEASE);
  __atomic_store_n(&rx.producer, rx.producer + n, __ATOMIC_RELEASE);
  return n;
}

uint32_t kernel_transmit(RingMemory& tx, RingMemory& comp) {
  const auto* descs = reinterpret_cast<const xdp_desc*>(tx.entries.data());
  auto* addrs = reinterpret_cast<uint64_t*>(comp.entries.data());
  uint32_t n = __atomic_load_n(&tx.producer, __ATOMIC_ACQUIRE) - tx.consumer;
  const uint32_t room =
      comp.size - (comp.producer - __atomic_load_n(&comp.consumer, __ATOMIC_ACQUIRE));
  n = std::min(n, room);
  for (uint32_t i = 0; i < n; ++i)
    addrs[(comp.producer + i) & (comp.size - 1)] = descs[(tx.consumer + i) & (tx.size - 1)].addr;
  __atomic_store_n(&tx.consumer, tx.consumer + n, __ATOMIC_RELEASE);
  __atomic_store_n(&comp.producer, comp.producer + n, __ATOMIC_RELEASE);
  return n;
}

}  // namespace lrp::bench
