// One application's shared-memory region (layout in service/protocol.h):
// lrpd creates and seals it, clients map what lrpd sent them.
#pragma once

#include <cstdint>
#include <memory>

#include "lrp/result.h"
#include "service/protocol.h"
#include "service/shm/ring.h"
#include "service/wire/unique_fd.h"

namespace lrp::service {

class Region {
 public:
  // lrpd: a memfd sized for the geometry, sealed against shrinking and
  // growing (a client that could truncate it would make lrpd fault on its
  // next access), mapped and initialised.
  static Result<std::unique_ptr<Region>> create(uint32_t app_id, const RegionGeometry& geometry,
                                                uint64_t daemon_epoch);
  // Client: maps a region received from lrpd and checks its header against
  // the memfd's size and the geometry it implies. Takes the fd.
  static Result<std::unique_ptr<Region>> map(UniqueFd memfd, uint64_t expected_size);
  ~Region();
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  int fd() const { return fd_.get(); }
  RegionHeader& header() { return *header_; }
  const RegionHeader& header() const { return *header_; }
  const RegionGeometry& geometry() const { return geometry_; }
  Ring& rx() { return rx_; }
  Ring& tx() { return tx_; }
  RegionState state() const {
    return static_cast<RegionState>(header_->state.load(std::memory_order_acquire));
  }

 private:
  Region() = default;
  Status attach(uint64_t size);

  UniqueFd fd_;
  RegionHeader* header_ = nullptr;
  uint64_t size_ = 0;
  RegionGeometry geometry_;
  Ring rx_;
  Ring tx_;
};

}  // namespace lrp::service
