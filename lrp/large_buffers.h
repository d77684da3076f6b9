// Contiguous buffers for received datagrams that arrived in several UMEM
// frames (AF_XDP multi-buffer). The fragments are copied into one buffer so
// that a datagram is always one span, and their frames go back at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace lrp {

class LargeBuffers {
 public:
  // count buffers of `size` bytes each; max_owners: socket slots.
  LargeBuffers(uint32_t count, uint32_t size, size_t max_owners);
  ~LargeBuffers();
  LargeBuffers(const LargeBuffers&) = delete;
  LargeBuffers& operator=(const LargeBuffers&) = delete;

  uint32_t size() const { return size_; }
  uint32_t count() const { return count_; }
  // A free buffer for owner, or nothing when all are held.
  std::optional<uint32_t> take(uint16_t owner);
  // Gives a buffer back; false (and nothing changes) when owner does not hold it.
  bool give_back(uint32_t index, uint16_t owner);
  // Every buffer owner holds goes back (an owner that leaves).
  size_t reclaim_owner(uint16_t owner);
  std::span<uint8_t> buffer(uint32_t index) { return {area_ + size_t{index} * size_, size_}; }

  size_t held() const;
  size_t held_by(uint16_t owner) const {
    return owner < max_owners_ ? held_[owner].load(std::memory_order_relaxed) : 0;
  }

 private:
  static constexpr uint16_t kFree = 0xffff;
  const uint32_t count_;
  const uint32_t size_;
  const size_t max_owners_;
  uint8_t* area_ = nullptr;
  size_t area_size_ = 0;
  mutable std::mutex mutex_;
  std::vector<uint32_t> free_;
  std::vector<uint16_t> owner_;  // per buffer; kFree when free
  std::unique_ptr<std::atomic<size_t>[]> held_;
};

}  // namespace lrp
