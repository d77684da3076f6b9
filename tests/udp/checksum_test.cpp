// The Internet checksum against published and hand-computed vectors, and the
// accumulator against a naive sum for every split, length and alignment.
#include "lrp/checksum.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/udp/frame_craft.h"

namespace lrp {
namespace {

using test::Bytes;
using test::reference_checksum;
using test::reference_sum;

// RFC 1071 section 3, "Numerical Examples".
const Bytes kRfc1071Bytes = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
constexpr uint16_t kRfc1071Sum = 0xddf2;
constexpr uint16_t kRfc1071Checksum = 0x220d;

uint16_t folded_sum(std::span<const uint8_t> bytes) {
  ChecksumAccumulator acc;
  acc.add(bytes);
  return acc.folded();
}

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& byte : b) byte = static_cast<uint8_t>(rng());
  return b;
}

TEST(Checksum, Rfc1071ExampleSumsToDdf2) {
  EXPECT_EQ(folded_sum(kRfc1071Bytes), kRfc1071Sum);
  EXPECT_EQ(internet_checksum(kRfc1071Bytes), kRfc1071Checksum);
  ChecksumAccumulator acc;
  acc.add(kRfc1071Bytes);
  EXPECT_EQ(acc.checksum(), kRfc1071Checksum);
}

TEST(Checksum, Rfc1071ExampleWithItsChecksumSumsToAllOnes) {
  Bytes with_checksum = kRfc1071Bytes;
  with_checksum.insert(with_checksum.end(), {0x22, 0x0d});
  EXPECT_EQ(folded_sum(with_checksum), 0xffff);
  EXPECT_EQ(internet_checksum(with_checksum), 0);
}

// An odd last byte counts as the high half of a zero-padded word.
TEST(Checksum, OddLengthPadsTheLastByteOnTheRight) {
  Bytes odd = kRfc1071Bytes;
  odd.push_back(0xab);
  EXPECT_EQ(folded_sum(odd), 0x88f3);  // 0xddf2 + 0xab00, carry folded
  EXPECT_EQ(internet_checksum(odd), 0x770c);
  EXPECT_EQ(folded_sum(Bytes{0x01}), 0x0100);
  EXPECT_EQ(internet_checksum(Bytes{0x01}), 0xfeff);
}

TEST(Checksum, EmptyInputSumsToZero) {
  EXPECT_EQ(folded_sum({}), 0);
  EXPECT_EQ(internet_checksum({}), 0xffff);
}

// Many carries: 32 KiB of 0xffff words must still fold to 0xffff.
TEST(Checksum, CarriesFoldBackIntoTheSum) {
  EXPECT_EQ(folded_sum(Bytes(65536, 0xff)), 0xffff);
  EXPECT_EQ(folded_sum(Bytes(65535, 0xff)), 0xff00);  // 0xffff (-0) plus a last 0xff00
  const Bytes big = random_bytes(70000, 7);
  EXPECT_EQ(folded_sum(big), reference_sum(big));
}

TEST(Checksum, FoldOfSixtyFourBitSums) {
  struct Case {
    uint64_t sum;
    uint16_t folded;
  };
  const Case cases[] = {
      {0, 0},
      {0xffff, 0xffff},
      {0x10000, 1},
      {0x1fffe, 0xffff},
      {0xffffffff, 0xffff},
      {0x0001000000000000ULL, 1},
      {0xffffffffffffffffULL, 0xffff},
      {0x123456789abcdef0ULL, 0xe259},  // 0x1234 + 0x5678 + 0x9abc + 0xdef0 = 0x1e258
  };
  for (const auto& c : cases) EXPECT_EQ(checksum_fold(c.sum), c.folded) << std::hex << c.sum;
}

// Lengths 0..300 at every alignment (the 64-bit loads see all offsets).
TEST(Checksum, MatchesNaiveSumForEveryLengthAndAlignment) {
  const Bytes data = random_bytes(300 + 8, 1);
  for (size_t align = 0; align < 8; ++align) {
    for (size_t n = 0; n <= 300; ++n) {
      const std::span<const uint8_t> piece(data.data() + align, n);
      ASSERT_EQ(folded_sum(piece), reference_sum(piece)) << "length " << n << " at +" << align;
    }
  }
}

// RFC 1071 section 2B: pieces starting at an odd offset are swapped in.
TEST(Checksum, AnySplitIntoTwoPiecesGivesTheSameSum) {
  for (const Bytes& data : {kRfc1071Bytes, random_bytes(77, 2), random_bytes(128, 3)}) {
    const uint16_t whole = reference_sum(data);
    for (size_t cut = 0; cut <= data.size(); ++cut) {
      ChecksumAccumulator acc;
      acc.add(std::span(data).first(cut));
      acc.add(std::span(data).subspan(cut));
      ASSERT_EQ(acc.folded(), whole) << "cut at " << cut << " of " << data.size();
    }
  }
}

TEST(Checksum, AnySplitIntoThreePiecesGivesTheSameSum) {
  const Bytes data = random_bytes(41, 4);
  const uint16_t whole = reference_sum(data);
  for (size_t a = 0; a <= data.size(); ++a) {
    for (size_t b = a; b <= data.size(); ++b) {
      ChecksumAccumulator acc;
      acc.add(std::span(data).first(a));
      acc.add(std::span(data).subspan(a, b - a));
      acc.add(std::span(data).subspan(b));
      ASSERT_EQ(acc.folded(), whole) << "cuts at " << a << " and " << b;
    }
  }
}

TEST(Checksum, ManySingleBytePiecesGiveTheSameSum) {
  const Bytes data = random_bytes(1001, 5);
  ChecksumAccumulator acc;
  for (uint8_t byte : data) acc.add(std::span(&byte, 1));
  EXPECT_EQ(acc.folded(), reference_sum(data));
}

// Fields are given in host order and summed as their big-endian bytes, also
// when the stream so far has an odd length.
TEST(Checksum, FieldsAddAsTheirBigEndianBytes) {
  for (size_t prefix_len : {0u, 1u, 2u, 3u}) {
    const Bytes prefix = random_bytes(prefix_len, 6);
    ChecksumAccumulator acc;
    acc.add(prefix);
    acc.add_u16(0x1234);
    acc.add_u32(0x89abcdef);
    Bytes expected = prefix;
    expected.insert(expected.end(), {0x12, 0x34, 0x89, 0xab, 0xcd, 0xef});
    EXPECT_EQ(acc.folded(), reference_sum(expected)) << "after " << prefix_len << " bytes";
  }
}

// A header with 198.18.0.1 -> 198.18.0.199, total length 0x73, DF, TTL 64;
// checksum computed by hand (words sum to 0x25270, folded 0x5272).
const Bytes kIpv4Header = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                           0xad, 0x8d, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0xc7};
constexpr uint16_t kIpv4HeaderChecksum = 0xad8d;

TEST(Ipv4HeaderChecksum, KnownHeader) {
  EXPECT_EQ(ipv4_header_checksum(kIpv4Header), kIpv4HeaderChecksum);
  EXPECT_TRUE(ipv4_header_checksum_ok(kIpv4Header));
}

// "Computed as if its field were zero": what is in the field does not matter.
TEST(Ipv4HeaderChecksum, IgnoresTheCurrentFieldValue) {
  for (uint16_t field : {0x0000, 0xffff, 0x1234}) {
    Bytes header = kIpv4Header;
    test::set16(header, 10, field);
    EXPECT_EQ(ipv4_header_checksum(header), kIpv4HeaderChecksum) << std::hex << field;
    EXPECT_FALSE(ipv4_header_checksum_ok(header)) << std::hex << field;
  }
}

TEST(Ipv4HeaderChecksum, AnyFlippedBitIsDetected) {
  for (size_t bit = 0; bit < kIpv4Header.size() * 8; ++bit) {
    Bytes header = kIpv4Header;
    header[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    EXPECT_FALSE(ipv4_header_checksum_ok(header)) << "bit " << bit;
  }
}

TEST(Ipv4HeaderChecksum, CoversOptions) {
  Bytes header = kIpv4Header;
  header[0] = 0x46;
  header.insert(header.end(), {0x01, 0x01, 0x01, 0x00});  // NOP NOP NOP EOL
  test::set16(header, 10, 0);
  const uint16_t expected = reference_checksum(header);
  EXPECT_EQ(ipv4_header_checksum(header), expected);
  test::set16(header, 10, expected);
  EXPECT_TRUE(ipv4_header_checksum_ok(header));
  header[22] = 0x07;
  EXPECT_FALSE(ipv4_header_checksum_ok(header));
}

// 40000 -> 7, payload "lrp" (odd length); sums computed independently.
const Bytes kUdpDatagram = {0x9c, 0x40, 0x00, 0x07, 0x00, 0x0b, 0x00, 0x00, 'l', 'r', 'p'};
constexpr uint16_t kUdpChecksumV4 = 0xfaf5;  // 198.18.0.2 -> 198.18.0.1
constexpr uint16_t kUdpChecksumV6 = 0x4715;  // 2001:2::2 -> 2001:2::1

struct Addresses4 {
  std::array<uint8_t, 4> src, dst;
};
struct Addresses6 {
  IpAddress::Bytes src, dst;
};

Addresses4 addresses4() {
  const auto src = test::address(test::kClient4), dst = test::address(test::kServer4);
  Addresses4 a;
  std::memcpy(a.src.data(), src.v4_bytes(), 4);
  std::memcpy(a.dst.data(), dst.v4_bytes(), 4);
  return a;
}

Addresses6 addresses6() {
  return {test::address(test::kClient6).bytes(), test::address(test::kServer6).bytes()};
}

TEST(UdpChecksum, KnownIpv4Datagram) {
  const auto a = addresses4();
  EXPECT_EQ(udp_checksum_ipv4(a.src, a.dst, kUdpDatagram), kUdpChecksumV4);
  Bytes sent = kUdpDatagram;
  test::set16(sent, 6, kUdpChecksumV4);
  EXPECT_TRUE(udp_checksum_ok_ipv4(a.src, a.dst, sent));
  // The field is not part of the computation of the value to send.
  EXPECT_EQ(udp_checksum_ipv4(a.src, a.dst, sent), kUdpChecksumV4);
}

TEST(UdpChecksum, KnownIpv6Datagram) {
  const auto a = addresses6();
  EXPECT_EQ(udp_checksum_ipv6(a.src, a.dst, kUdpDatagram), kUdpChecksumV6);
  Bytes sent = kUdpDatagram;
  test::set16(sent, 6, kUdpChecksumV6);
  EXPECT_TRUE(udp_checksum_ok_ipv6(a.src, a.dst, sent));
}

// The pseudo header binds the datagram to its addresses.
TEST(UdpChecksum, OtherAddressOrChangedPayloadFailsVerification) {
  const auto a4 = addresses4();
  const auto a6 = addresses6();
  const auto other4 = test::address("198.18.0.3");
  const auto other6 = test::address("2001:2::3");
  Bytes sent = kUdpDatagram;
  test::set16(sent, 6, kUdpChecksumV4);
  EXPECT_FALSE(
      udp_checksum_ok_ipv4(std::span<const uint8_t, 4>(other4.v4_bytes(), 4), a4.dst, sent));
  test::set16(sent, 6, kUdpChecksumV6);
  EXPECT_FALSE(udp_checksum_ok_ipv6(a6.src, other6.bytes(), sent));
  sent[8] ^= 0x01;
  EXPECT_FALSE(udp_checksum_ok_ipv6(a6.src, a6.dst, sent));
}

// A datagram whose checksum computes to 0: searched by varying two payload
// bytes; the value to send is then 0xffff, and both 0xffff and 0 verify.
TEST(UdpChecksum, ComputedZeroIsSentAsAllOnes) {
  const auto a = addresses4();
  Bytes datagram = {0x9c, 0x40, 0x00, 0x07, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00};
  bool found = false;
  for (uint32_t word = 0; word <= 0xffff && !found; ++word) {
    test::set16(datagram, 8, static_cast<uint16_t>(word));
    Bytes summed = {a.src[0], a.src[1], a.src[2], a.src[3], a.dst[0], a.dst[1],
                    a.dst[2], a.dst[3], 0,        17,       0,        10};
    summed.insert(summed.end(), datagram.begin(), datagram.end());
    found = reference_checksum(summed) == 0;
  }
  ASSERT_TRUE(found);
  EXPECT_EQ(udp_checksum_ipv4(a.src, a.dst, datagram), 0xffff);
  test::set16(datagram, 6, 0xffff);
  EXPECT_TRUE(udp_checksum_ok_ipv4(a.src, a.dst, datagram));
  test::set16(datagram, 6, 0);
  EXPECT_TRUE(udp_checksum_ok_ipv4(a.src, a.dst, datagram));
}

}  // namespace
}  // namespace lrp
