#include "service/shm/ring.h"

namespace lrp::service {

void Ring::initialise(RingHeader* header, uint8_t* first_entry, uint32_t entries,
                      uint32_t entry_size) {
  for (uint32_t i = 0; i < entries; ++i) {
    auto* e = reinterpret_cast<EntryHeader*>(first_entry + uint64_t{i} * entry_size);
    e->owner.store(0, std::memory_order_relaxed);
    e->seq.store(i, std::memory_order_relaxed);
  }
  header->head.store(0, std::memory_order_relaxed);
  header->released.store(0, std::memory_order_relaxed);
  header->tail.store(0, std::memory_order_relaxed);
  header->consumer_waiting.store(0, std::memory_order_relaxed);
  header->producer_waiting.store(0, std::memory_order_relaxed);
  header->entries = entries;
  // Shared only afterwards, by system calls (SCM_RIGHTS, mmap): no fence needed.
}

// An entry a consumer claimed and did not release: published for position
// p = seq - 1 (so it sits at index p & mask) and the head already past p.
// The owner tag was cleared when it was published, so a tag equal to `owner`
// was written by that owner for this very lap.
uint32_t Ring::reclaim_consumer_claims(uint32_t owner) {
  if (owner == 0) return 0;
  uint32_t n = 0;
  const uint64_t head = header_->head.load(std::memory_order_acquire);
  for (uint64_t i = 0; i <= mask_; ++i) {
    auto* e = reinterpret_cast<EntryHeader*>(base_ + i * entry_size_);
    const uint64_t seq = e->seq.load(std::memory_order_acquire);
    const uint64_t p = seq - 1;
    if ((p & mask_) != i) continue;  // free for a producer, or not ours to judge
    const int64_t behind = static_cast<int64_t>(head - p);
    if (behind <= 0 || behind > static_cast<int64_t>(mask_ + 1)) continue;
    if (e->owner.load(std::memory_order_relaxed) != owner) continue;
    release(RingSlot{e, payload(e), p});
    ++n;
  }
  return n;
}

// An entry a producer claimed and did not publish: seq == p for its index
// and the tail already past p. Its owner tag was cleared when the previous
// lap's consumer released it.
uint32_t Ring::reclaim_producer_claims(uint32_t owner) {
  if (owner == 0) return 0;
  uint32_t n = 0;
  const uint64_t tail = header_->tail.load(std::memory_order_acquire);
  for (uint64_t i = 0; i <= mask_; ++i) {
    auto* e = reinterpret_cast<EntryHeader*>(base_ + i * entry_size_);
    const uint64_t p = e->seq.load(std::memory_order_acquire);
    if ((p & mask_) != i) continue;
    const int64_t behind = static_cast<int64_t>(tail - p);
    if (behind <= 0 || behind > static_cast<int64_t>(mask_ + 1)) continue;
    if (e->owner.load(std::memory_order_relaxed) != owner) continue;
    e->flags = kEntryAbandoned;
    e->length = 0;
    publish(RingSlot{e, payload(e), p});
    ++n;
  }
  return n;
}

}  // namespace lrp::service
