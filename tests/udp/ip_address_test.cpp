// Addresses: text round trips, the v4-mapped form, socket addresses, hashing.
#include "lrp/ip_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/un.h>

#include <cstring>
#include <set>
#include <string>
#include <unordered_set>

namespace lrp {
namespace {

IpAddress parsed(std::string_view text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.ok()) << text << ": " << (a.ok() ? "" : a.error().message());
  return a.ok() ? a.value() : IpAddress();
}

TEST(IpAddress, Ipv4IsStoredV4Mapped) {
  const IpAddress a = parsed("192.0.2.33");
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.family(), AF_INET);
  const IpAddress::Bytes mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 33};
  EXPECT_EQ(a.bytes(), mapped);
  EXPECT_EQ(a, IpAddress(mapped));
  EXPECT_EQ(a.to_string(), "192.0.2.33");
}

TEST(IpAddress, TextRoundTrips) {
  for (const char* text : {"0.0.0.0", "127.0.0.1", "198.18.0.1", "255.255.255.255", "::", "::1",
                           "2001:db8::1", "fe80::1:2:3:4", "2001:db8:1:2:3:4:5:6", "ff02::fb"}) {
    EXPECT_EQ(parsed(text).to_string(), text);
  }
}

TEST(IpAddress, Ipv6TextIsCanonicalised) {
  EXPECT_EQ(parsed("2001:0DB8:0000:0000:0000:0000:0000:0001").to_string(), "2001:db8::1");
  EXPECT_FALSE(parsed("2001:db8::1").is_v4());
  EXPECT_EQ(parsed("2001:db8::1").family(), AF_INET6);
}

TEST(IpAddress, V4MappedTextIsTheIpv4Address) {
  const IpAddress mapped = parsed("::ffff:192.0.2.1");
  EXPECT_TRUE(mapped.is_v4());
  EXPECT_EQ(mapped, parsed("192.0.2.1"));
  EXPECT_EQ(mapped.to_string(), "192.0.2.1");
  EXPECT_EQ(parsed("::ffff:c000:201"), parsed("192.0.2.1"));
  // Only the ::ffff: prefix maps; the deprecated ::a.b.c.d form is IPv6.
  EXPECT_FALSE(parsed("::192.0.2.1").is_v4());
}

TEST(IpAddress, AnyAddresses) {
  EXPECT_TRUE(IpAddress::any_v4().is_any());
  EXPECT_TRUE(IpAddress::any_v4().is_v4());
  EXPECT_TRUE(IpAddress::any_v6().is_any());
  EXPECT_FALSE(IpAddress::any_v6().is_v4());
  EXPECT_NE(IpAddress::any_v4(), IpAddress::any_v6());
  EXPECT_EQ(IpAddress(), IpAddress::any_v4());
  EXPECT_EQ(parsed("0.0.0.0"), IpAddress::any_v4());
  EXPECT_EQ(parsed("::"), IpAddress::any_v6());
  EXPECT_FALSE(parsed("0.0.0.1").is_any());
  EXPECT_FALSE(parsed("::1").is_any());
}

TEST(IpAddress, RejectsWhatIsNotAnAddress) {
  for (const char* text : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", " 1.2.3.4",
                           "1.2.3.4 ", "host", "::g", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "[::1]",
                           "1.2.3.4:80", "0000:0000:0000:0000:0000:0000:0000:0000:0000"}) {
    auto a = IpAddress::parse(text);
    ASSERT_FALSE(a.ok()) << text;
    EXPECT_EQ(a.error().code, EINVAL);
    EXPECT_NE(a.error().context.find(text), std::string::npos);
  }
}

TEST(IpAddress, ParsesOnlyTheViewNotTheBytesAfterIt) {
  const std::string_view text("10.0.0.12345", 8);
  EXPECT_EQ(parsed(text).to_string(), "10.0.0.1");
}

TEST(IpAddress, RejectsTextWithAnEmbeddedNul) {
  for (const std::string_view text :
       {std::string_view("198.18.0.1\0junk", 15), std::string_view("2001:2::1\0", 10)}) {
    auto a = IpAddress::parse(text);
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().code, EINVAL);
  }
}

TEST(IpAddress, FromKernelStructures) {
  in_addr v4;
  ASSERT_EQ(inet_pton(AF_INET, "203.0.113.9", &v4), 1);
  EXPECT_EQ(IpAddress::from_v4(v4), parsed("203.0.113.9"));
  EXPECT_EQ(IpAddress::from_v4(v4).to_v4().s_addr, v4.s_addr);
  in6_addr v6;
  ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::77", &v6), 1);
  EXPECT_EQ(IpAddress::from_v6(v6), parsed("2001:db8::77"));
  EXPECT_EQ(std::memcmp(IpAddress::from_v6(v6).to_v6().s6_addr, v6.s6_addr, 16), 0);
  const uint8_t header_bytes[5] = {0xee, 198, 51, 100, 1};  // unaligned on purpose
  EXPECT_EQ(IpAddress::from_v4_bytes(header_bytes + 1), parsed("198.51.100.1"));
  EXPECT_EQ(std::memcmp(parsed("198.51.100.1").v4_bytes(), header_bytes + 1, 4), 0);
}

TEST(Endpoint, SocketAddressRoundTrips) {
  for (const char* text : {"192.0.2.1", "2001:db8::1", "0.0.0.0", "::"}) {
    const Endpoint e{parsed(text), 5353};
    sockaddr_storage ss;
    const socklen_t len = e.to_sockaddr(&ss);
    if (e.addr.is_v4()) {
      ASSERT_EQ(len, sizeof(sockaddr_in));
      EXPECT_EQ(ss.ss_family, AF_INET);
      EXPECT_EQ(reinterpret_cast<sockaddr_in*>(&ss)->sin_port, htons(5353));
    } else {
      ASSERT_EQ(len, sizeof(sockaddr_in6));
      EXPECT_EQ(ss.ss_family, AF_INET6);
      EXPECT_EQ(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port, htons(5353));
    }
    auto back = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    ASSERT_TRUE(back.ok()) << back.error().message();
    EXPECT_EQ(back.value(), e);
    auto from_storage = Endpoint::from_sockaddr(ss);
    ASSERT_TRUE(from_storage.ok());
    EXPECT_EQ(from_storage.value(), e);
    auto addr = IpAddress::from_sockaddr(ss);
    ASSERT_TRUE(addr.ok());
    EXPECT_EQ(addr.value(), e.addr);
  }
}

TEST(Endpoint, RejectsOtherFamiliesAndShortAddresses) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  auto r = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&un), sizeof(un));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EAFNOSUPPORT);
  sockaddr_storage ss;
  Endpoint{parsed("2001:db8::1"), 1}.to_sockaddr(&ss);
  auto short_v6 =
      Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sizeof(sockaddr_in6) - 1);
  ASSERT_FALSE(short_v6.ok());
  EXPECT_EQ(short_v6.error().code, EINVAL);
  EXPECT_EQ(Endpoint::from_sockaddr(nullptr, 0).error().code, EFAULT);
}

TEST(Endpoint, Text) {
  EXPECT_EQ((Endpoint{parsed("192.0.2.1"), 53}).to_string(), "192.0.2.1:53");
  EXPECT_EQ((Endpoint{parsed("2001:db8::1"), 53}).to_string(), "[2001:db8::1]:53");
}

TEST(IpAddress, OrderingAndHashing) {
  EXPECT_LT(parsed("10.0.0.1"), parsed("10.0.0.2"));
  EXPECT_LT(parsed("::1"), parsed("10.0.0.1"));  // by bytes: ::1 before ::ffff:...
  EXPECT_LT((Endpoint{parsed("10.0.0.1"), 9}), (Endpoint{parsed("10.0.0.1"), 10}));
  EXPECT_EQ(std::hash<IpAddress>()(parsed("::ffff:10.1.2.3")),
            std::hash<IpAddress>()(parsed("10.1.2.3")));

  std::unordered_set<IpAddress> addresses;
  std::unordered_set<Endpoint> endpoints;
  std::set<size_t> hashes;
  for (int i = 0; i < 256; ++i) {
    const IpAddress a = parsed("10.0.0." + std::to_string(i));
    addresses.insert(a);
    addresses.insert(a);
    endpoints.insert(Endpoint{a, 1});
    endpoints.insert(Endpoint{a, 2});
    hashes.insert(std::hash<IpAddress>()(a));
  }
  EXPECT_EQ(addresses.size(), 256u);
  EXPECT_EQ(endpoints.size(), 512u);
  EXPECT_EQ(hashes.size(), 256u);  // neighbouring addresses do not collide
}

}  // namespace
}  // namespace lrp
