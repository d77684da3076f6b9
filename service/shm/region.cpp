#include "service/shm/region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <string>

namespace lrp::service {

Region::~Region() {
  if (header_ != nullptr) munmap(header_, size_);
}

Status Region::attach(uint64_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (p == MAP_FAILED)
    return errno_error("map the application region (" + std::to_string(size) + " bytes)");
  header_ = static_cast<RegionHeader*>(p);
  size_ = size;
  auto* base = reinterpret_cast<uint8_t*>(p);
  rx_ = Ring(&header_->rx, base + geometry_.rx_offset, geometry_.rx_entries, geometry_.entry_size,
             geometry_.slot_payload);
  tx_ = Ring(&header_->tx, base + geometry_.tx_offset, geometry_.tx_entries, geometry_.entry_size,
             geometry_.slot_payload);
  return {};
}

Result<std::unique_ptr<Region>> Region::create(uint32_t app_id, const RegionGeometry& geometry,
                                               uint64_t daemon_epoch) {
  const std::string what = "application " + std::to_string(app_id) + " region";
  std::unique_ptr<Region> r(new Region());
  r->geometry_ = geometry;
  const std::string name = "lrp-app-" + std::to_string(app_id);
  r->fd_.reset(memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!r->fd_) return errno_error("create the " + what);
  if (ftruncate(r->fd_.get(), static_cast<off_t>(geometry.size)) != 0)
    return errno_error("size the " + what);
  if (fcntl(r->fd_.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
    return errno_error("seal the " + what);
  LRP_TRY(r->attach(geometry.size));
  RegionHeader& h = *r->header_;
  // A fresh memfd is zero-filled; only nonzero fields are set.
  h.magic = kRegionMagic;
  h.version = kRegionVersion;
  h.header_size = sizeof(RegionHeader);
  h.region_size = geometry.size;
  h.app_id = app_id;
  h.slot_payload = geometry.slot_payload;
  h.entry_size = geometry.entry_size;
  h.rx_entries = geometry.rx_entries;
  h.tx_entries = geometry.tx_entries;
  h.rx_ring_offset = geometry.rx_offset;
  h.tx_ring_offset = geometry.tx_offset;
  h.daemon_epoch = daemon_epoch;
  auto* base = reinterpret_cast<uint8_t*>(r->header_);
  Ring::initialise(&h.rx, base + geometry.rx_offset, geometry.rx_entries, geometry.entry_size);
  Ring::initialise(&h.tx, base + geometry.tx_offset, geometry.tx_entries, geometry.entry_size);
  h.state.store(static_cast<uint32_t>(RegionState::Attached), std::memory_order_release);
  return r;
}

Result<std::unique_ptr<Region>> Region::map(UniqueFd memfd, uint64_t expected_size) {
  std::unique_ptr<Region> r(new Region());
  r->fd_ = std::move(memfd);
  struct stat st {};
  if (fstat(r->fd_.get(), &st) != 0) return errno_error("inspect the region lrpd sent");
  if (static_cast<uint64_t>(st.st_size) != expected_size || expected_size < sizeof(RegionHeader))
    return make_error(EPROTO, "region lrpd sent has " + std::to_string(st.st_size) +
                                  " bytes, announced " + std::to_string(expected_size));
  // The header first, to learn the geometry; then the rest is checked
  // against what that geometry implies.
  RegionGeometry g;
  {
    void* p = mmap(nullptr, sizeof(RegionHeader), PROT_READ, MAP_SHARED, r->fd_.get(), 0);
    if (p == MAP_FAILED) return errno_error("map the region header");
    const auto& hp = *static_cast<const RegionHeader*>(p);
    struct {
      uint32_t magic, slot_payload, entry_size, rx_entries, tx_entries;
      uint16_t version, header_size;
      uint64_t region_size, rx_ring_offset, tx_ring_offset;
    } h{hp.magic,   hp.slot_payload, hp.entry_size,  hp.rx_entries,     hp.tx_entries,
        hp.version, hp.header_size,  hp.region_size, hp.rx_ring_offset, hp.tx_ring_offset};
    munmap(p, sizeof(RegionHeader));
    if (h.magic != kRegionMagic || h.version != kRegionVersion ||
        h.header_size != sizeof(RegionHeader))
      return make_error(EPROTO, "region from lrpd has layout version " + std::to_string(h.version) +
                                    ", this client knows " + std::to_string(kRegionVersion));
    if (!region_geometry(h.slot_payload, h.rx_entries, h.tx_entries, &g) ||
        g.size != expected_size || g.entry_size != h.entry_size ||
        g.rx_offset != h.rx_ring_offset || g.tx_offset != h.tx_ring_offset ||
        h.region_size != expected_size)
      return make_error(EPROTO, "region from lrpd has an inconsistent geometry");
  }
  r->geometry_ = g;
  LRP_TRY(r->attach(expected_size));
  return r;
}

}  // namespace lrp::service
