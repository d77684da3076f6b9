#include "lrp/checksum.h"

#include <netinet/in.h>

#include <cstring>

namespace lrp {

uint64_t checksum_add(uint64_t sum, std::span<const uint8_t> bytes) {
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  // Sum 32-bit big-endian words into 64 bits; carries are folded at the end.
  while (n >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    sum += ntohl(w);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    sum += static_cast<uint32_t>(p[0]) << 8 | p[1];
    p += 2;
    n -= 2;
  }
  if (n == 1) sum += static_cast<uint32_t>(p[0]) << 8;
  return sum;
}

uint16_t checksum_finish(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

uint16_t ipv4_header_checksum(std::span<const uint8_t> header) {
  return checksum_finish(checksum_add(0, header));
}

uint16_t udp_checksum(const IpAddress& src, const IpAddress& dst, std::span<const uint8_t> udp) {
  uint64_t sum = 0;
  if (src.is_v4()) {
    sum = checksum_add(sum, {src.v4_bytes(), 4});
    sum = checksum_add(sum, {dst.v4_bytes(), 4});
  } else {
    sum = checksum_add(sum, src.bytes());
    sum = checksum_add(sum, dst.bytes());
  }
  sum += IPPROTO_UDP;
  sum += udp.size();
  return checksum_finish(checksum_add(sum, udp));
}

}  // namespace lrp
