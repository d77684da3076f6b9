// Properties of the user-space UDP/IP code that must hold for any input; the
// fuzz targets and the corpus test call these. Each returns an empty string
// when the property holds, otherwise what broke.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace lrp::fuzz {

// parse_udp_frame: never reads outside the frame (the caller's sanitizer or
// exact-size copy catches that), a view lies inside the frame, checking
// checksums only ever rejects more, and an accepted datagram rebuilt with
// build_udp_frame parses back to the same endpoints and payload.
std::string check_udp_parse(std::span<const uint8_t> input);

// The checksum code against a naive RFC 1071 sum: any split of the bytes into
// pieces gives the same sum, and a checksum written into a header or a
// datagram verifies. Byte 0 of the input chooses the split points.
std::string check_checksum(std::span<const uint8_t> input);

}  // namespace lrp::fuzz
