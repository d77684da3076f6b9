#include "lrp/umem.h"

#include <sys/mman.h>

namespace lrp {

Result<std::unique_ptr<Umem>> Umem::create(const UmemConfig& config) {
  std::unique_ptr<Umem> u(new Umem());
  u->config_ = config;
  u->area_size_ = size_t{config.frame_count} * config.frame_size;
  void* area = mmap(nullptr, u->area_size_, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (area == MAP_FAILED)
    return errno_error("map " + std::to_string(u->area_size_) + " bytes of UMEM");
  u->area_ = static_cast<uint8_t*>(area);
  xsk_umem_config cfg{.fill_size = config.fill_size,
                      .comp_size = config.comp_size,
                      .frame_size = config.frame_size,
                      .frame_headroom = 0,
                      .flags = 0};
  int err = xsk_umem__create(&u->umem_, u->area_, u->area_size_, &u->fill_, &u->comp_, &cfg);
  if (err != 0) {
    u->umem_ = nullptr;
    return make_error(err, "register UMEM of " + std::to_string(config.frame_count) +
                               " frames (needs root or CAP_NET_RAW, and locked memory)");
  }
  return u;
}

Umem::~Umem() {
  if (umem_ != nullptr) xsk_umem__delete(umem_);
  if (area_ != nullptr) munmap(area_, area_size_);
}

}  // namespace lrp
