#include "lrp/frame_pool.h"

#include <cstdio>
#include <cstdlib>

namespace lrp {

const char* to_string(FramePlace place) {
  switch (place) {
    case FramePlace::Free:
      return "free";
    case FramePlace::KernelRx:
      return "kernel_rx";
    case FramePlace::Held:
      return "held";
    case FramePlace::KernelTx:
      return "kernel_tx";
    case FramePlace::Count:
      break;
  }
  return "unknown";
}

namespace {

uint32_t log2_if_power_of_two(uint32_t v) {
  if (v < 2 || (v & (v - 1)) != 0) return 0;
  return static_cast<uint32_t>(__builtin_ctz(v));
}

// Only the lock holder writes: a plain load and store, no read-modify-write.
inline void add(std::atomic<size_t>& c, size_t n) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline void sub(std::atomic<size_t>& c, size_t n) {
  c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}

}  // namespace

FramePool::FramePool(size_t frame_count, uint32_t frame_size, size_t max_owners)
    : frame_size_(frame_size),
      shift_(log2_if_power_of_two(frame_size)),
      states_(frame_count),
      held_(new std::atomic<size_t>[max_owners]()),
      tx_(new std::atomic<size_t>[max_owners]()),
      max_owners_(max_owners) {
  free_.reserve(frame_count);
  // Hand out low addresses first: a stack, so push the highest first.
  for (size_t i = frame_count; i-- > 0;) free_.push_back(uint64_t{i} * frame_size);
  by_place_[static_cast<size_t>(FramePlace::Free)] = frame_count;
}

void FramePool::note_violation() {
  ++violations_;
#ifdef LRP_CHECK_FRAMES
  std::fprintf(stderr, "lrp: frame accounting violated\n");
  std::abort();
#endif
}

bool FramePool::move(uint64_t addr, FramePlace from, FramePlace to, uint16_t from_owner,
                     uint16_t to_owner) {
  const uint64_t index = index_of(addr);
  if (index >= states_.size()) {
    note_violation();
    return false;
  }
  FrameState& state = states_[index];
  if (state.place != from || (from_owner != kNoOwner && state.owner != from_owner)) {
    note_violation();
    return false;
  }
  if (from == FramePlace::Held) sub(held_[state.owner], 1);
  if (from == FramePlace::KernelTx) sub(tx_[state.owner], 1);
  --by_place_[static_cast<size_t>(from)];
  state.place = to;
  state.owner = to_owner;
  if (to == FramePlace::Held) add(held_[to_owner], 1);
  if (to == FramePlace::KernelTx) add(tx_[to_owner], 1);
  ++by_place_[static_cast<size_t>(to)];
  return true;
}

inline bool FramePool::set_place(uint64_t base, FramePlace from, FramePlace to, uint16_t from_owner,
                                 uint16_t to_owner) {
  const uint64_t index = index_of(base);
  if (index >= states_.size()) {
    note_violation();
    return false;
  }
  FrameState& state = states_[index];
  if (state.place != from || (from_owner != kNoOwner && state.owner != from_owner)) {
    note_violation();
    return false;
  }
  state.place = to;
  state.owner = to_owner;
  return true;
}

// `owner`: the owner on whichever side of the move has one.
void FramePool::count_moves(FramePlace from, FramePlace to, uint16_t owner, size_t n) {
  if (n == 0) return;
  if (from == FramePlace::Held) sub(held_[owner], n);
  if (from == FramePlace::KernelTx) sub(tx_[owner], n);
  if (to == FramePlace::Held) add(held_[owner], n);
  if (to == FramePlace::KernelTx) add(tx_[owner], n);
  by_place_[static_cast<size_t>(from)] -= n;
  by_place_[static_cast<size_t>(to)] += n;
}

size_t FramePool::take_for_fill(std::span<uint64_t> out) {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  while (n < out.size() && !free_.empty()) {
    const uint64_t addr = free_.back();
    free_.pop_back();
    if (set_place(addr, FramePlace::Free, FramePlace::KernelRx, kNoOwner, kNoOwner))
      out[n++] = addr;
  }
  count_moves(FramePlace::Free, FramePlace::KernelRx, kNoOwner, n);
  return n;
}

void FramePool::return_unfilled(std::span<const uint64_t> addrs) {
  std::lock_guard lock(mutex_);
  for (uint64_t addr : addrs) {
    if (move(addr, FramePlace::KernelRx, FramePlace::Free, kNoOwner, kNoOwner))
      free_.push_back(addr);
  }
}

bool FramePool::received(uint64_t addr, uint16_t owner) {
  if (owner >= max_owners_) return false;
  std::lock_guard lock(mutex_);
  return move(frame_base(addr), FramePlace::KernelRx, FramePlace::Held, kNoOwner, owner);
}

void FramePool::received_batch(std::span<const uint64_t> addrs, uint16_t owner, bool* ok) {
  if (owner >= max_owners_) {
    for (size_t i = 0; i < addrs.size(); ++i) ok[i] = false;
    return;
  }
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (size_t i = 0; i < addrs.size(); ++i) {
    ok[i] =
        set_place(frame_base(addrs[i]), FramePlace::KernelRx, FramePlace::Held, kNoOwner, owner);
    n += ok[i];
  }
  count_moves(FramePlace::KernelRx, FramePlace::Held, owner, n);
}

size_t FramePool::release_batch(std::span<const uint64_t> addrs, uint16_t owner) {
  if (owner >= max_owners_) return 0;
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (uint64_t addr : addrs) {
    const uint64_t base = frame_base(addr);
    if (!set_place(base, FramePlace::Held, FramePlace::Free, owner, kNoOwner)) continue;
    free_.push_back(base);
    ++n;
  }
  count_moves(FramePlace::Held, FramePlace::Free, owner, n);
  return n;
}

bool FramePool::release(uint64_t addr, uint16_t owner) {
  std::lock_guard lock(mutex_);
  const uint64_t base = frame_base(addr);
  if (!move(base, FramePlace::Held, FramePlace::Free, owner, kNoOwner)) return false;
  free_.push_back(base);
  return true;
}

bool FramePool::take_for_send(uint16_t owner, uint64_t* addr) {
  if (owner >= max_owners_) return false;
  std::lock_guard lock(mutex_);
  if (free_.empty()) return false;
  const uint64_t base = free_.back();
  free_.pop_back();
  move(base, FramePlace::Free, FramePlace::Held, kNoOwner, owner);
  *addr = base;
  return true;
}

bool FramePool::submitted_for_tx(uint64_t addr, uint16_t owner) {
  std::lock_guard lock(mutex_);
  return move(frame_base(addr), FramePlace::Held, FramePlace::KernelTx, owner, owner);
}

size_t FramePool::take_for_tx(uint16_t owner, std::span<uint64_t> out) {
  if (owner >= max_owners_) return 0;
  std::lock_guard lock(mutex_);
  size_t n = 0;
  while (n < out.size() && !free_.empty()) {
    const uint64_t addr = free_.back();
    free_.pop_back();
    if (set_place(addr, FramePlace::Free, FramePlace::KernelTx, kNoOwner, owner)) out[n++] = addr;
  }
  count_moves(FramePlace::Free, FramePlace::KernelTx, owner, n);
  return n;
}

void FramePool::untake_for_tx(std::span<const uint64_t> addrs, uint16_t owner) {
  std::lock_guard lock(mutex_);
  for (uint64_t addr : addrs) {
    const uint64_t base = frame_base(addr);
    if (move(base, FramePlace::KernelTx, FramePlace::Free, owner, kNoOwner)) free_.push_back(base);
  }
}

void FramePool::completed_batch(std::span<const uint64_t> addrs, uint16_t* owners) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < addrs.size(); ++i) {
    const uint64_t base = frame_base(addrs[i]);
    const uint64_t index = index_of(base);
    owners[i] = kNoOwner;
    if (index >= states_.size()) {
      note_violation();
      continue;
    }
    const uint16_t was = states_[index].owner;
    if (!move(base, FramePlace::KernelTx, FramePlace::Free, kNoOwner, kNoOwner)) continue;
    free_.push_back(base);
    owners[i] = was;
  }
}

bool FramePool::completed(uint64_t addr, uint16_t* owner) {
  std::lock_guard lock(mutex_);
  const uint64_t base = frame_base(addr);
  const uint64_t index = index_of(base);
  if (index >= states_.size()) {
    note_violation();
    return false;
  }
  const uint16_t was = states_[index].owner;
  if (!move(base, FramePlace::KernelTx, FramePlace::Free, kNoOwner, kNoOwner)) return false;
  free_.push_back(base);
  if (owner != nullptr) *owner = was;
  return true;
}

size_t FramePool::reclaim_owner(uint16_t owner) {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (size_t i = 0; i < states_.size(); ++i) {
    FrameState& state = states_[i];
    if (state.owner != owner || state.place != FramePlace::Held) continue;
    const uint64_t addr = uint64_t{i} * frame_size_;
    move(addr, FramePlace::Held, FramePlace::Free, owner, kNoOwner);
    free_.push_back(addr);
    ++n;
  }
  return n;
}

size_t FramePool::held_by(uint16_t owner) const {
  return owner < max_owners_ ? held_[owner].load(std::memory_order_relaxed) : 0;
}

size_t FramePool::tx_by(uint16_t owner) const {
  return owner < max_owners_ ? tx_[owner].load(std::memory_order_relaxed) : 0;
}

FrameCounts FramePool::counts() const {
  std::lock_guard lock(mutex_);
  FrameCounts c;
  c.total = states_.size();
  for (size_t i = 0; i < static_cast<size_t>(FramePlace::Count); ++i) c.by_place[i] = by_place_[i];
  return c;
}

uint64_t FramePool::violations() const {
  std::lock_guard lock(mutex_);
  return violations_;
}

bool FramePool::consistent(std::string* why) const {
  std::lock_guard lock(mutex_);
  size_t recount[static_cast<size_t>(FramePlace::Count)] = {};
  std::vector<size_t> held(max_owners_), tx(max_owners_);
  for (const FrameState& s : states_) {
    ++recount[static_cast<size_t>(s.place)];
    if (s.place == FramePlace::Held) ++held[s.owner];
    if (s.place == FramePlace::KernelTx) ++tx[s.owner];
  }
  auto fail = [why](std::string text) {
    if (why != nullptr) *why = std::move(text);
    return false;
  };
  for (size_t i = 0; i < static_cast<size_t>(FramePlace::Count); ++i) {
    if (recount[i] != by_place_[i])
      return fail(std::string("count of ") + to_string(static_cast<FramePlace>(i)) + " is " +
                  std::to_string(by_place_[i]) + " but " + std::to_string(recount[i]) +
                  " frames are there");
  }
  if (free_.size() != recount[static_cast<size_t>(FramePlace::Free)])
    return fail("free list has " + std::to_string(free_.size()) + " entries for " +
                std::to_string(recount[static_cast<size_t>(FramePlace::Free)]) + " free frames");
  std::vector<bool> seen(states_.size());
  for (uint64_t addr : free_) {
    const uint64_t index = index_of(addr);
    if (states_[index].place != FramePlace::Free || seen[index])
      return fail("free list entry " + std::to_string(addr) + " is not a unique free frame");
    seen[index] = true;
  }
  for (size_t o = 0; o < max_owners_; ++o)
    if (held[o] != held_[o].load(std::memory_order_relaxed) ||
        tx[o] != tx_[o].load(std::memory_order_relaxed))
      return fail("per-owner counts of owner " + std::to_string(o) + " disagree with frame states");
  if (violations_ != 0) return fail(std::to_string(violations_) + " invalid frame moves");
  return true;
}

}  // namespace lrp
