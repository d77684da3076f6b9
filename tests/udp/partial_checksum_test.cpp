// Partial UDP checksums: the pseudo-header sum a local sender leaves when the
// device is to finish the checksum. Accepted only when asked for, counted
// apart, and never a way for a wrong full checksum to get through.
#include <gtest/gtest.h>

#include <string>

#include "lrp/checksum.h"
#include "lrp/udp_frame.h"
#include "tests/udp/frame_craft.h"

namespace lrp::test {
namespace {

// The pseudo-header sum, folded and not complemented, written here from RFC
// 768 / RFC 8200 rather than taken from the library.
uint16_t reference_partial(const Bytes& f, const Layout& at) {
  const size_t udp_len = get16(f, at.l4 + 4);
  const size_t address_len = at.v6 ? 16 : 4;
  const size_t src = at.l3 + (at.v6 ? 8 : 12);
  Bytes pseudo(f.begin() + src, f.begin() + src + 2 * address_len);
  if (at.v6)
    pseudo.insert(pseudo.end(), {0, 0, static_cast<uint8_t>(udp_len >> 8),
                                 static_cast<uint8_t>(udp_len), 0, 0, 0, kProtoUdp});
  else
    pseudo.insert(pseudo.end(), {0, kProtoUdp, static_cast<uint8_t>(udp_len >> 8),
                                 static_cast<uint8_t>(udp_len)});
  return reference_sum(pseudo);
}

// A frame as a local sender with checksum offload hands it over.
Bytes partial_frame(const FrameKind& kind, size_t payload = 40) {
  Bytes f = build_frame(kind, pattern(payload));
  const Layout at = layout_of(kind);
  set16(f, at.l4 + 6, reference_partial(f, at));
  return f;
}

ParseResult parse(const Bytes& f, bool accept_partial, bool verify = true) {
  return parse_udp_frame(f,
                         {.verify_checksums = verify, .accept_partial_checksum = accept_partial});
}

std::string outcome(const ParseResult& r) {
  if (!r.ok()) return to_string(r.reason());
  return r.partial_checksum() ? "ok partial" : "ok full";
}

class PartialChecksum : public ::testing::TestWithParam<FrameKind> {};

TEST_P(PartialChecksum, AcceptedOnlyWhenAskedAndCountedApart) {
  const Bytes f = partial_frame(GetParam());
  EXPECT_EQ(outcome(parse(f, false)), "bad_udp_checksum");
  const ParseResult r = parse(f, true);
  EXPECT_EQ(outcome(r), "ok partial");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.view().payload.size(), 40u);
  EXPECT_EQ(Bytes(r.view().payload.begin(), r.view().payload.end()), pattern(40));
  // Nothing is checked when checksums are not verified, so nothing is partial.
  EXPECT_EQ(outcome(parse(f, true, false)), "ok full");
}

TEST_P(PartialChecksum, FullChecksumsAreStillFull) {
  const Bytes f = build_frame(GetParam(), pattern(40));
  EXPECT_EQ(outcome(parse(f, false)), "ok full");
  EXPECT_EQ(outcome(parse(f, true)), "ok full");
}

TEST_P(PartialChecksum, ANearMissIsStillAWrongChecksum) {
  const Layout at = layout_of(GetParam());
  const Bytes good = partial_frame(GetParam());
  const uint16_t partial = get16(good, at.l4 + 6);
  // The field one off, one bit off, or the sum of other addresses or another
  // length: corruption, not a partial checksum.
  for (uint16_t wrong :
       {static_cast<uint16_t>(partial + 1), static_cast<uint16_t>(partial ^ 0x0100),
        static_cast<uint16_t>(~partial)}) {
    Bytes f = good;
    set16(f, at.l4 + 6, wrong);
    EXPECT_EQ(outcome(parse(f, true)), "bad_udp_checksum") << std::hex << wrong;
  }
  Bytes other_source = good;
  other_source[at.l3 + (at.v6 ? 8 : 12) + 1] ^= 0x01;  // the pseudo header changes...
  if (!at.v6) refresh_ipv4_checksum(other_source, at.l3);
  EXPECT_EQ(outcome(parse(other_source, true)), "bad_udp_checksum");  // ...the field did not
}

TEST_P(PartialChecksum, EverySingleBitFlipOfAFullChecksumStaysRejected) {
  const Layout at = layout_of(GetParam());
  const Bytes good = build_frame(GetParam(), pattern(24));
  const uint16_t full = get16(good, at.l4 + 6);
  const uint16_t partial = reference_partial(good, at);
  // A flip of the field could only pass if it turned the field into the
  // partial sum; this frame's two differ in more than one bit.
  ASSERT_GT(__builtin_popcount(static_cast<unsigned>(full ^ partial)), 1);
  const size_t udp_len = get16(good, at.l4 + 4);
  size_t flips = 0;
  // Every bit of the datagram after the length field: checksum and payload.
  for (size_t byte = at.l4 + 6; byte < at.l4 + udp_len; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes f = good;
      f[byte] ^= static_cast<uint8_t>(1 << bit);
      const std::string got = outcome(parse(f, true));
      // A flip that zeroes an IPv4 checksum means "no checksum": valid.
      if (!at.v6 && get16(f, at.l4 + 6) == 0) continue;
      EXPECT_EQ(got, "bad_udp_checksum") << "byte " << byte << " bit " << bit;
      ++flips;
    }
  }
  EXPECT_GT(flips, 8 * 24u);
}

INSTANTIATE_TEST_SUITE_P(Kinds, PartialChecksum, ::testing::ValuesIn(kAllKinds),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(PartialChecksumSum, IsWhatADeviceCompletes) {
  // A device that finishes a partial checksum sums the datagram from the UDP
  // header on, with the partial sum in the field, and stores the complement.
  for (const FrameKind& kind : kAllKinds) {
    SCOPED_TRACE(kind.name);
    const Layout at = layout_of(kind);
    for (size_t payload : {0u, 1u, 17u, 1000u}) {
      const Bytes full = build_frame(kind, pattern(payload, static_cast<uint8_t>(payload)));
      Bytes f = full;
      const uint16_t partial = reference_partial(f, at);
      const size_t udp_len = get16(f, at.l4 + 4);
      const std::span<const uint8_t> src(f.data() + at.l3 + (at.v6 ? 8 : 12), at.v6 ? 16 : 4);
      const std::span<const uint8_t> dst(src.data() + src.size(), src.size());
      const uint16_t library =
          at.v6 ? udp_partial_checksum_ipv6(std::span<const uint8_t, 16>(src.data(), 16),
                                            std::span<const uint8_t, 16>(dst.data(), 16),
                                            static_cast<uint32_t>(udp_len))
                : udp_partial_checksum_ipv4(std::span<const uint8_t, 4>(src.data(), 4),
                                            std::span<const uint8_t, 4>(dst.data(), 4),
                                            static_cast<uint16_t>(udp_len));
      EXPECT_EQ(library, partial);
      EXPECT_NE(library, 0);
      set16(f, at.l4 + 6, partial);
      uint16_t completed = reference_checksum({f.data() + at.l4, udp_len});
      if (completed == 0) completed = 0xffff;
      EXPECT_EQ(completed, get16(full, at.l4 + 6)) << payload;
    }
  }
}

}  // namespace
}  // namespace lrp::test
