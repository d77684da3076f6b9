// The Internet checksum (RFC 1071) and the UDP pseudo-header sums.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "lrp/ip_address.h"

namespace lrp {

// One's-complement sum of the bytes, as 16-bit big-endian words, added to
// `sum` (unfolded, so sums can be chained).
uint64_t checksum_add(uint64_t sum, std::span<const uint8_t> bytes);
// Folds to 16 bits and complements: the value to put in a header.
uint16_t checksum_finish(uint64_t sum);

uint16_t ipv4_header_checksum(std::span<const uint8_t> header);
// UDP checksum over pseudo header, UDP header (with its checksum field as
// given) and payload. Verifying a received datagram: the result is 0.
uint16_t udp_checksum(const IpAddress& src, const IpAddress& dst, std::span<const uint8_t> udp);

}  // namespace lrp
