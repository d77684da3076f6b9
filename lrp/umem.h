// A UMEM: the frame memory shared with the kernel, with its fill and
// completion rings. One per (interface, queue).
#pragma once

#include <xdp/xsk.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "lrp/result.h"

namespace lrp {

struct UmemConfig {
  uint32_t frame_count = 8192;
  uint32_t frame_size = 2048;  // aligned mode: a power of two >= 2048
  uint32_t fill_size = 4096;
  uint32_t comp_size = 2048;
};

class Umem {
 public:
  static Result<std::unique_ptr<Umem>> create(const UmemConfig& config);
  ~Umem();
  Umem(const Umem&) = delete;
  Umem& operator=(const Umem&) = delete;

  xsk_umem* handle() { return umem_; }
  xsk_ring_prod* fill() { return &fill_; }
  xsk_ring_cons* comp() { return &comp_; }
  const UmemConfig& config() const { return config_; }

  uint8_t* data(uint64_t addr) { return area_ + addr; }
  std::span<uint8_t> frame(uint64_t base) { return {area_ + base, config_.frame_size}; }

 private:
  Umem() = default;
  UmemConfig config_;
  uint8_t* area_ = nullptr;
  size_t area_size_ = 0;
  xsk_umem* umem_ = nullptr;
  xsk_ring_prod fill_{};
  xsk_ring_cons comp_{};
};

}  // namespace lrp
