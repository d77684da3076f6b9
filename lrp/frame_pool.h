// The frames of one UMEM and where each one is. Every frame is in exactly one
// place; every move between places is checked against where the frame was.
// The moves of the data path come in batches, one lock per batch; the
// per-owner counts are read without the lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace lrp {

// Where a frame is. The kernel's side is split in two: frames given for
// receive (in the fill ring or already in some socket's RX ring) and frames
// given for transmit (in a TX ring or the completion ring).
enum class FramePlace : uint8_t { Free, KernelRx, Held, KernelTx, Count };
const char* to_string(FramePlace place);

inline constexpr uint16_t kNoOwner = 0xffff;

struct FrameCounts {
  size_t total = 0;
  size_t by_place[static_cast<size_t>(FramePlace::Count)] = {};
  size_t at(FramePlace p) const { return by_place[static_cast<size_t>(p)]; }
};

class FramePool {
 public:
  // max_owners: socket slots that can hold frames.
  FramePool(size_t frame_count, uint32_t frame_size, size_t max_owners);

  size_t frame_count() const { return states_.size(); }
  uint32_t frame_size() const { return frame_size_; }

  // Frame address (offset into the UMEM) of any byte inside the frame; the
  // kernel may hand back addresses with headroom added. (Frame sizes are
  // powers of two in aligned mode: a mask, not a division, per frame.)
  uint64_t frame_base(uint64_t addr) const {
    return shift_ != 0 ? addr & ~uint64_t{frame_size_ - 1} : addr - addr % frame_size_;
  }

  // Free -> KernelRx: up to out.size() frames for the fill ring. Returns count.
  size_t take_for_fill(std::span<uint64_t> out);
  // Undo take_for_fill for frames the ring did not accept.
  void return_unfilled(std::span<const uint64_t> addrs);
  // KernelRx -> Held by owner: a frame read from owner's RX ring.
  bool received(uint64_t addr, uint16_t owner);
  // The same for a batch under one lock; `ok[i]` says whether addrs[i] moved.
  void received_batch(std::span<const uint64_t> addrs, uint16_t owner, bool* ok);
  // Held -> Free.
  bool release(uint64_t addr, uint16_t owner);
  // The same for a batch under one lock; returns how many moved.
  size_t release_batch(std::span<const uint64_t> addrs, uint16_t owner);
  // Free -> Held by owner: a frame taken to build a datagram for transmit.
  bool take_for_send(uint16_t owner, uint64_t* addr);
  // Held -> KernelTx: put on owner's TX ring.
  bool submitted_for_tx(uint64_t addr, uint16_t owner);
  // Free -> KernelTx for owner, up to out.size() frames under one lock: for a
  // sender that has reserved as many TX descriptors and fills them before it
  // publishes them. Returns the count (fewer when the pool runs short).
  size_t take_for_tx(uint16_t owner, std::span<uint64_t> out);
  // KernelTx -> Free for frames take_for_tx gave that never reached the ring.
  void untake_for_tx(std::span<const uint64_t> addrs, uint16_t owner);
  // KernelTx -> Free: returned on the completion ring. Reports the owner.
  bool completed(uint64_t addr, uint16_t* owner);
  // The same for a batch under one lock; owners[i] is addrs[i]'s owner, or
  // kNoOwner when that frame was not out for transmit (a violation).
  void completed_batch(std::span<const uint64_t> addrs, uint16_t* owners);
  // Every frame held or in flight for transmit by owner -> Free; for an
  // owner that leaves. Frames in the kernel's RX rings come back through
  // the normal path. Returns the number reclaimed.
  size_t reclaim_owner(uint16_t owner);

  size_t held_by(uint16_t owner) const;
  size_t tx_by(uint16_t owner) const;
  FrameCounts counts() const;
  // Moves that did not match the frame's recorded place (should stay 0).
  uint64_t violations() const;
  // Recounts every frame's state and compares with the running counters.
  bool consistent(std::string* why) const;

 private:
  struct FrameState {
    FramePlace place = FramePlace::Free;
    uint16_t owner = kNoOwner;
  };
  bool move(uint64_t addr, FramePlace from, FramePlace to, uint16_t from_owner, uint16_t to_owner);
  // The batch form: each frame's state is checked and set, the counts
  // change once for the batch (count_moves).
  bool set_place(uint64_t base, FramePlace from, FramePlace to, uint16_t from_owner,
                 uint16_t to_owner);
  void count_moves(FramePlace from, FramePlace to, uint16_t owner, size_t n);
  void note_violation();

  uint64_t index_of(uint64_t base) const {
    return shift_ != 0 ? base >> shift_ : base / frame_size_;
  }

  const uint32_t frame_size_;
  const uint32_t shift_;  // log2(frame_size_) for a power of two, else 0
  mutable std::mutex mutex_;
  std::vector<FrameState> states_;
  std::vector<uint64_t> free_;  // stack of free frame addresses
  // Per owner; written under the lock, read without it.
  std::unique_ptr<std::atomic<size_t>[]> held_;
  std::unique_ptr<std::atomic<size_t>[]> tx_;
  const size_t max_owners_;
  size_t by_place_[static_cast<size_t>(FramePlace::Count)] = {};
  uint64_t violations_ = 0;
};

}  // namespace lrp
