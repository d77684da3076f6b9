// A bounded single-producer single-consumer ring: the engine thread delivers,
// one application thread reads. Lock-free; capacity is a power of two.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>

namespace lrp::sched {

template <class T>
class SpscRing {
 public:
  explicit SpscRing(size_t capacity_pow2)
      : mask_(capacity_pow2 - 1), slots_(std::make_unique<T[]>(capacity_pow2)) {}

  size_t capacity() const { return mask_ + 1; }
  // Either side may ask; the answer may be stale by the time it is used.
  size_t size() const {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }

  // Producer only.
  bool push(const T& value) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) > mask_) return false;
    slots_[tail & mask_] = value;
    // Release: the slot is written before the consumer can see the new tail.
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer only.
  bool pop(T* out) {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return false;
    *out = slots_[head & mask_];
    // Release: the slot is read before the producer may reuse it.
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

 private:
  static constexpr size_t kLine = 64;
  alignas(kLine) std::atomic<size_t> head_{0};
  alignas(kLine) std::atomic<size_t> tail_{0};
  alignas(kLine) const size_t mask_;
  std::unique_ptr<T[]> slots_;
};

}  // namespace lrp::sched
