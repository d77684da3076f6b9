#include "lrp/large_buffers.h"

#include <sys/mman.h>

namespace lrp {

LargeBuffers::LargeBuffers(uint32_t count, uint32_t size, size_t max_owners)
    : count_(count),
      size_(size),
      max_owners_(max_owners),
      owner_(count, kFree),
      held_(new std::atomic<size_t>[max_owners]()) {
  area_size_ = size_t{count} * size;
  void* area =
      mmap(nullptr, area_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) {
    area_size_ = 0;
    return;  // take() then finds nothing free: counted as a drop by the caller
  }
  area_ = static_cast<uint8_t*>(area);
  free_.reserve(count);
  for (uint32_t i = count; i-- > 0;) free_.push_back(i);
}

LargeBuffers::~LargeBuffers() {
  if (area_ != nullptr) munmap(area_, area_size_);
}

std::optional<uint32_t> LargeBuffers::take(uint16_t owner) {
  if (owner >= max_owners_) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (free_.empty()) return std::nullopt;
  const uint32_t index = free_.back();
  free_.pop_back();
  owner_[index] = owner;
  held_[owner].store(held_[owner].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return index;
}

bool LargeBuffers::give_back(uint32_t index, uint16_t owner) {
  std::lock_guard lock(mutex_);
  if (index >= count_ || owner_[index] != owner) return false;
  owner_[index] = kFree;
  free_.push_back(index);
  held_[owner].store(held_[owner].load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  return true;
}

size_t LargeBuffers::reclaim_owner(uint16_t owner) {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (uint32_t i = 0; i < count_; ++i) {
    if (owner_[i] != owner) continue;
    owner_[i] = kFree;
    free_.push_back(i);
    ++n;
  }
  if (owner < max_owners_) held_[owner].store(0, std::memory_order_relaxed);
  return n;
}

size_t LargeBuffers::held() const {
  std::lock_guard lock(mutex_);
  return count_ - free_.size();
}

}  // namespace lrp
