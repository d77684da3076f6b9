#include "tests/fuzz/userspace_checks.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "lrp/checksum.h"
#include "lrp/udp_frame.h"

namespace lrp::fuzz {

namespace {

bool inside(std::span<const uint8_t> part, std::span<const uint8_t> whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool same_view(const DatagramView& a, const DatagramView& b) {
  return a.source == b.source && a.destination == b.destination && a.vlan == b.vlan &&
         a.payload.size() == b.payload.size() &&
         std::equal(a.payload.begin(), a.payload.end(), b.payload.begin());
}

// Big-endian 16-bit words, folded; the plainest reading of RFC 1071.
uint16_t naive_sum(std::span<const uint8_t> bytes) {
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes.size(); i += 2)
    sum += static_cast<uint16_t>(bytes[i] << 8 | (i + 1 < bytes.size() ? bytes[i + 1] : 0));
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

}  // namespace

std::string check_udp_parse(std::span<const uint8_t> input) {
  // An exact-size heap copy: one byte read past the end is a sanitizer report.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[input.size() + 1]);
  if (!input.empty()) std::memcpy(copy.get(), input.data(), input.size());
  const std::span<const uint8_t> frame(copy.get(), input.size());

  const ParseResult checked = parse_udp_frame(frame, {.verify_checksums = true});
  const ParseResult unchecked = parse_udp_frame(frame, {.verify_checksums = false});
  for (const ParseResult* r : {&checked, &unchecked}) {
    if (!r->ok() && r->reason() >= DropReason::Count) return "drop reason out of range";
    if (!r->ok() && std::strcmp(to_string(r->reason()), "unknown") == 0)
      return "drop reason without a name";
    if (r->ok() && !inside(r->view().payload, frame)) return "payload outside the frame";
  }
  if (checked.ok() && !unchecked.ok())
    return std::string("accepted with checksums checked, dropped without: ") +
           to_string(unchecked.reason());
  if (checked.ok() && !same_view(checked.view(), unchecked.view()))
    return "checking checksums changed the datagram";

  // Accepting partial checksums only adds datagrams whose checksum field is
  // exactly the pseudo-header sum, and changes nothing else.
  const ParseResult partial =
      parse_udp_frame(frame, {.verify_checksums = true, .accept_partial_checksum = true});
  if (checked.partial_checksum()) return "partial without accept_partial_checksum";
  if (partial.ok() != (checked.ok() || partial.partial_checksum()))
    return "accept_partial_checksum changed more than partial checksums";
  if (!partial.ok() && (checked.ok() || partial.reason() != checked.reason()))
    return "accept_partial_checksum changed a drop reason";
  if (partial.ok() && !same_view(partial.view(), unchecked.view()))
    return "accept_partial_checksum changed the datagram";
  if (partial.ok() && partial.partial_checksum()) {
    const auto& d = partial.view();
    // The UDP header is 8 bytes before the payload; its checksum field is the last two.
    const uint8_t* u = d.payload.data() - 8;
    const uint16_t field = static_cast<uint16_t>(u[6] << 8 | u[7]);
    const uint16_t length = static_cast<uint16_t>(u[4] << 8 | u[5]);
    uint16_t want = 0;
    if (d.source.addr.is_v4()) {
      want = udp_partial_checksum_ipv4(
          std::span<const uint8_t, 4>(d.source.addr.v4_bytes(), 4),
          std::span<const uint8_t, 4>(d.destination.addr.v4_bytes(), 4), length);
    } else {
      want = udp_partial_checksum_ipv6(d.source.addr.bytes(), d.destination.addr.bytes(), length);
    }
    if (field != want) return "accepted as partial a field that is not the pseudo-header sum";
  }
  if (!unchecked.ok()) return {};

  // Rebuild what was accepted: it must parse back to the same datagram.
  const DatagramView& v = unchecked.view();
  FrameHeaderSpec spec;
  spec.source = v.source;
  spec.destination = v.destination;
  spec.vlan = v.vlan;
  std::vector<uint8_t> rebuilt(udp_header_size(spec) + v.payload.size());
  auto built = build_udp_frame(rebuilt, spec, v.payload);
  if (!built.ok()) return "rebuilding an accepted datagram failed: " + built.error().message();
  rebuilt.resize(built.value());
  const ParseResult again = parse_udp_frame(rebuilt, {.verify_checksums = true});
  if (!again.ok())
    return std::string("a rebuilt datagram was dropped: ") + to_string(again.reason());
  if (!same_view(again.view(), v)) return "a rebuilt datagram parsed differently";
  return {};
}

std::string check_checksum(std::span<const uint8_t> input) {
  if (input.empty()) return {};
  const uint8_t choice = input[0];
  const std::span<const uint8_t> data = input.subspan(1);
  const uint16_t want = naive_sum(data);

  ChecksumAccumulator whole;
  whole.add(data);
  if (whole.folded() != want && !(whole.folded() == 0xffff && want == 0) &&
      !(whole.folded() == 0 && want == 0xffff))
    return "sum of the whole buffer differs from RFC 1071";

  // Pieces of lengths 1..8 chosen by the first byte, at odd and even offsets.
  ChecksumAccumulator pieces;
  size_t at = 0;
  for (unsigned k = 0; at < data.size(); ++k) {
    const size_t len = std::min<size_t>(data.size() - at, 1 + ((choice >> (k % 8)) & 7) + k % 3);
    pieces.add(data.subspan(at, len));
    at += len;
  }
  if (pieces.folded() != whole.folded()) return "sum in pieces differs from the whole";
  if (internet_checksum(data) != whole.checksum()) return "internet_checksum differs";

  // An IPv4 header with its checksum written in verifies.
  if (data.size() >= 20) {
    const size_t len = std::min<size_t>(60, data.size() & ~size_t{3});
    std::vector<uint8_t> header(data.begin(), data.begin() + static_cast<long>(len));
    const uint16_t sum = ipv4_header_checksum(header);
    header[10] = static_cast<uint8_t>(sum >> 8);
    header[11] = static_cast<uint8_t>(sum);
    if (!ipv4_header_checksum_ok(header)) return "a written IPv4 header checksum does not verify";
  }
  // A UDP datagram with its checksum written in verifies, on both families.
  if (data.size() >= 8 + 32) {
    const std::span<const uint8_t, 16> src(data.data(), 16), dst(data.data() + 16, 16);
    const std::span<const uint8_t, 4> src4(data.data(), 4), dst4(data.data() + 4, 4);
    std::vector<uint8_t> dgram(data.begin() + 32, data.end());
    for (bool v6 : {false, true}) {
      const uint16_t sum =
          v6 ? udp_checksum_ipv6(src, dst, dgram) : udp_checksum_ipv4(src4, dst4, dgram);
      if (sum == 0) return "a UDP checksum of 0 was not sent as 0xffff";
      dgram[6] = static_cast<uint8_t>(sum >> 8);
      dgram[7] = static_cast<uint8_t>(sum);
      const bool ok =
          v6 ? udp_checksum_ok_ipv6(src, dst, dgram) : udp_checksum_ok_ipv4(src4, dst4, dgram);
      if (!ok)
        return v6 ? "a written IPv6 UDP checksum does not verify"
                  : "a written IPv4 UDP checksum does not verify";
    }
  }
  return {};
}

}  // namespace lrp::fuzz
