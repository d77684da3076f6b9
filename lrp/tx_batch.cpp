#include "lrp/tx_batch.h"

#include <array>

namespace lrp {

namespace {

constexpr uint32_t kMaxDescs = 256;

}  // namespace

size_t transmit_frames(const TxQueue& q, uint16_t owner, std::span<const TxFrame> frames,
                       uint32_t max_descs) {
  // How many datagrams fit, and in how many descriptors.
  max_descs = std::min({max_descs, kMaxDescs, xsk_prod_nb_free(q.tx, max_descs)});
  uint32_t descs[kMaxDescs];  // per datagram
  size_t count = 0;
  uint32_t needed = 0;
  for (; count < frames.size(); ++count) {
    const TxFrame& f = frames[count];
    const uint32_t d = descriptors_for(q, udp_header_size(f.header) + f.payload.size());
    // Never an oversized frame: without multi-buffer one descriptor is all.
    if (needed + d > max_descs || (d > 1 && !q.multi_buffer)) break;
    descs[count] = d;
    needed += d;
  }
  if (count == 0) return 0;
  uint64_t addrs[kMaxDescs];
  const size_t got = q.pool->take_for_tx(owner, {addrs, needed});
  if (got < needed) {
    // The pool ran short: send the datagrams whose frames all came.
    uint32_t fit = 0;
    size_t fit_count = 0;
    while (fit_count < count && fit + descs[fit_count] <= got) fit += descs[fit_count++];
    if (fit < got) q.pool->untake_for_tx({addrs + fit, got - fit}, owner);
    count = fit_count;
    needed = fit;
    if (count == 0) return 0;
  }
  // Build into the frames, then publish the descriptors in one go.
  uint32_t lengths[kMaxDescs];
  uint32_t built_descs = 0;
  size_t built = 0;
  for (; built < count; ++built) {
    const TxFrame& f = frames[built];
    if (descs[built] == 1) {
      // Checked by the caller (check_udp_frame) before frames were taken.
      lengths[built_descs] = static_cast<uint32_t>(build_checked_udp_frame(
          {q.area + addrs[built_descs], q.frame_size}, f.header, f.payload));
    } else {
      std::array<std::span<uint8_t>, kMaxTxDescriptorsPerFrame> segments;
      for (uint32_t k = 0; k < descs[built]; ++k)
        segments[k] = {q.area + addrs[built_descs + k], q.frame_size};
      auto used = build_udp_frame_split({segments.data(), descs[built]}, f.header, f.payload,
                                        {lengths + built_descs, descs[built]});
      if (!used || used.value() != descs[built]) break;
    }
    built_descs += descs[built];
  }
  if (built_descs < needed)
    q.pool->untake_for_tx({addrs + built_descs, needed - built_descs}, owner);
  if (built_descs == 0) return 0;
  uint32_t idx = 0;
  // Room was checked above and we are the ring's only producer.
  const uint32_t reserved = xsk_ring_prod__reserve(q.tx, built_descs, &idx);
  if (reserved != built_descs) {
    q.pool->untake_for_tx({addrs, built_descs}, owner);
    return 0;
  }
  size_t d = 0;
  for (size_t i = 0; i < built; ++i) {
    for (uint32_t k = 0; k < descs[i]; ++k, ++d) {
      xdp_desc* desc = xsk_ring_prod__tx_desc(q.tx, idx + static_cast<uint32_t>(d));
      desc->addr = addrs[d];
      desc->len = lengths[d];
      desc->options = k + 1 < descs[i] ? XDP_PKT_CONTD : 0;
    }
  }
  xsk_ring_prod__submit(q.tx, built_descs);
  return built;
}

}  // namespace lrp
