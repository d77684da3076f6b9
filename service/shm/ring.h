// A bounded multi-producer multi-consumer ring of fixed-size entries in
// shared memory (service/protocol.h's RingHeader + EntryHeader slots).
//
// The algorithm is the per-entry sequence queue (as in D. Vyukov's bounded
// MPMC queue): entry i starts with seq = i; a producer at position p may
// fill the entry when seq == p, publishes it with seq = p + 1; a consumer at
// position p may take it when seq == p + 1 and releases it with
// seq = p + entries, which hands it to the producer of the next lap. The
// CAS on head or tail only decides who gets a position; the entry's seq
// carries the ordering of its contents. Between claim and release/publish
// the claimer owns the entry exclusively, so a consumer may keep a zero-copy
// view into it (other consumers move on past it; producers see the ring
// full there until it is released).
//
// One side of every ring is lrpd and the other an application it does not
// trust. So every call is bounded (kMaxSpins attempts, then "full"/"empty"),
// indices are masked, and geometry comes from the caller's own trusted copy,
// never from shared memory. A peer that corrupts the positions or stalls an
// entry makes the ring look full or empty to lrpd: it only loses its own
// datagrams.
#pragma once

#include <atomic>
#include <cstdint>

#include "service/protocol.h"

namespace lrp::service {

// A full barrier between this side's last write and its next read: the
// Dekker step of sleeping and waking (raise the flag, then look at the ring;
// change the ring, then look at the flag). ThreadSanitizer does not model
// fences (and GCC refuses them under it); there it is a read-modify-write on
// one location both sides share, which it does model.
inline void store_load_barrier() {
#if defined(__SANITIZE_THREAD__)
  static std::atomic<uint32_t> shared{0};
  shared.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

// An entry claimed by one side: read or written in place, then handed on
// with publish() (producer) or release() (consumer).
struct RingSlot {
  EntryHeader* entry = nullptr;
  uint8_t* payload = nullptr;  // slot_payload bytes
  uint64_t pos = 0;
};

class Ring {
 public:
  // Attempts before giving up on a contended or inconsistent ring.
  static constexpr int kMaxSpins = 64;

  Ring() = default;
  // entries: power of two; entry_size: bytes per entry (header + payload).
  Ring(RingHeader* header, uint8_t* first_entry, uint32_t entries, uint32_t entry_size,
       uint32_t slot_payload)
      : header_(header),
        base_(first_entry),
        mask_(entries - 1),
        entry_size_(entry_size),
        slot_payload_(slot_payload) {}

  // Sets the positions and every entry's seq; before the ring is shared.
  static void initialise(RingHeader* header, uint8_t* first_entry, uint32_t entries,
                         uint32_t entry_size);

  bool valid() const { return header_ != nullptr; }
  uint32_t entries() const { return mask_ + 1; }
  uint32_t slot_payload() const { return slot_payload_; }

  // --- producer ---
  // Claims the entry at the tail. false: full (or inconsistent, or contended
  // kMaxSpins times). owner tags the claim (the client's session id; lrpd: 0).
  bool claim_produce(RingSlot* out, uint32_t owner) {
    uint64_t pos = header_->tail.load(std::memory_order_relaxed);
    for (int spin = 0; spin < kMaxSpins; ++spin) {
      EntryHeader* e = entry(pos);
      // Acquire: the consumer that released this entry finished reading it
      // before we overwrite it.
      const uint64_t seq = e->seq.load(std::memory_order_acquire);
      const int64_t dif = static_cast<int64_t>(seq - pos);
      if (dif == 0) {
        // Relaxed: the CAS only arbitrates between producers.
        if (header_->tail.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          if (owner != 0) e->owner.store(owner, std::memory_order_relaxed);
          *out = RingSlot{e, payload(e), pos};
          return true;
        }
        // pos now holds the current tail.
      } else if (dif < 0) {
        return false;  // the entry of the previous lap is not released: full
      } else {
        pos = header_->tail.load(std::memory_order_relaxed);  // another producer took it
      }
    }
    return false;
  }
  // Makes a filled entry visible to consumers.
  void publish(const RingSlot& s) {
    s.entry->owner.store(0, std::memory_order_relaxed);
    // Release: header and payload are written before a consumer can see seq.
    s.entry->seq.store(s.pos + 1, std::memory_order_release);
  }

  // --- consumer ---
  // Claims the entry at the head. false: empty (or inconsistent, or
  // contended kMaxSpins times).
  bool claim_consume(RingSlot* out, uint32_t owner) {
    uint64_t pos = header_->head.load(std::memory_order_relaxed);
    for (int spin = 0; spin < kMaxSpins; ++spin) {
      EntryHeader* e = entry(pos);
      // Acquire: pairs with publish(); the contents are visible once seq is.
      const uint64_t seq = e->seq.load(std::memory_order_acquire);
      const int64_t dif = static_cast<int64_t>(seq - (pos + 1));
      if (dif == 0) {
        if (header_->head.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          if (owner != 0) e->owner.store(owner, std::memory_order_relaxed);
          *out = RingSlot{e, payload(e), pos};
          return true;
        }
      } else if (dif < 0) {
        return false;  // not yet published: empty
      } else {
        pos = header_->head.load(std::memory_order_relaxed);
      }
    }
    return false;
  }
  // Hands a consumed entry back to producers.
  void release(const RingSlot& s) {
    s.entry->owner.store(0, std::memory_order_relaxed);
    // Release: our reads of the entry happen before a producer rewrites it.
    s.entry->seq.store(s.pos + entries(), std::memory_order_release);
    header_->released.fetch_add(1, std::memory_order_relaxed);
  }

  // The entry of a position a consumer claimed earlier (to release it).
  RingSlot slot_at(uint64_t pos) const {
    EntryHeader* e = entry(pos);
    return RingSlot{e, payload(e), pos};
  }

  // Entries in use: claimed by a producer, published, or held by a consumer
  // (a zero-copy view counts until it is released), clamped to
  // [0, entries()]. A hint; it may be stale when used.
  uint32_t occupancy() const {
    const uint64_t tail = header_->tail.load(std::memory_order_acquire);
    const uint64_t released = header_->released.load(std::memory_order_acquire);
    const int64_t n = static_cast<int64_t>(tail - released);
    if (n <= 0) return 0;
    return n > static_cast<int64_t>(entries()) ? entries() : static_cast<uint32_t>(n);
  }
  // True when the entry at the tail is free for a producer (the ring is in
  // order: an entry a consumer still holds stops producers there).
  bool writable() const {
    const uint64_t pos = header_->tail.load(std::memory_order_acquire);
    return entry(pos)->seq.load(std::memory_order_acquire) == pos;
  }
  // True when the entry at the head is published (a consumer would get it).
  bool readable() const {
    const uint64_t pos = header_->head.load(std::memory_order_acquire);
    return entry(pos)->seq.load(std::memory_order_acquire) == pos + 1;
  }

  // --- sleeping and waking ---
  // The side about to sleep raises its flag, then looks at the ring again
  // (seq_cst on both sides: either the other side sees the flag, or this
  // side sees the other's work). The other side, after its work, calls
  // take_*_waiting() and rings the doorbell when it returns true.
  void set_consumer_waiting() { raise(header_->consumer_waiting); }
  void set_producer_waiting() { raise(header_->producer_waiting); }
  bool take_consumer_waiting() { return take(header_->consumer_waiting); }
  bool take_producer_waiting() { return take(header_->producer_waiting); }
  // A look at the other side's flag without taking it (lrpd, to learn that
  // the application took the flag it raised).
  bool consumer_waiting() const { return peek(header_->consumer_waiting); }
  bool producer_waiting() const { return peek(header_->producer_waiting); }

  // --- recovery, lrpd only ---
  // Releases entries that consumers tagged `owner` claimed and never
  // released (the process is gone). Returns how many.
  uint32_t reclaim_consumer_claims(uint32_t owner);
  // Publishes entries that producers tagged `owner` claimed and never
  // published, marked kEntryAbandoned so consumers skip them.
  uint32_t reclaim_producer_claims(uint32_t owner);

 private:
  static void raise(std::atomic<uint32_t>& flag) {
    flag.store(1, std::memory_order_relaxed);
    // Orders the flag before this side's next look at the ring.
    store_load_barrier();
  }
  static bool peek(const std::atomic<uint32_t>& flag) {
    store_load_barrier();
    return flag.load(std::memory_order_acquire) != 0;
  }
  static bool take(std::atomic<uint32_t>& flag) {
    // Orders this side's ring work before its look at the flag.
    store_load_barrier();
    if (flag.load(std::memory_order_relaxed) == 0) return false;
    return flag.exchange(0, std::memory_order_acq_rel) != 0;
  }
  EntryHeader* entry(uint64_t pos) const {
    return reinterpret_cast<EntryHeader*>(base_ + (pos & mask_) * uint64_t{entry_size_});
  }
  static uint8_t* payload(EntryHeader* e) {
    return reinterpret_cast<uint8_t*>(e) + sizeof(EntryHeader);
  }

  RingHeader* header_ = nullptr;
  uint8_t* base_ = nullptr;
  uint64_t mask_ = 0;
  uint32_t entry_size_ = 0;
  uint32_t slot_payload_ = 0;
};

}  // namespace lrp::service
