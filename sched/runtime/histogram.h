// A histogram with power-of-two buckets that one thread records into without
// locks and any thread reads (metrics). Bucket i counts values <= 2^i.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace lrp::sched {

class Pow2Histogram {
 public:
  static constexpr size_t kBuckets = 16;  // up to 32768; larger values land in the last

  void record(uint64_t value) {
    size_t i = value <= 1 ? 0 : static_cast<size_t>(std::bit_width(value - 1));
    if (i >= kBuckets) i = kBuckets - 1;
    add(buckets_[i], 1);
    add(sum_, value);
    add(count_, 1);
  }
  static uint64_t upper_bound(size_t bucket) { return uint64_t{1} << bucket; }
  uint64_t bucket(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  // Single writer: a relaxed load and store is enough and cheaper than an RMW.
  static void add(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> count_{0};
};

}  // namespace lrp::sched
