// Next-hop resolution over rtnetlink on a veth bench: ARP and NDP started from
// an empty neighbour table, gateways, the usable entry states, hosts that
// never answer, destinations that are not ours to send to; and the engines'
// resolver following the kernel's notifications.
#include "lrp/neighbour.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "lrp/neighbour_resolver.h"
#include "lrp/netdev.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp {
namespace {

using namespace std::chrono_literals;
using test::NetnsGuard;
using test::VethBench;
using Clock = std::chrono::steady_clock;

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? a.value() : IpAddress{};
}

class NeighbourTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LRP_REQUIRE_PRIVILEGES();
    bench_ = std::make_unique<VethBench>("nbr");
    ASSERT_TRUE(bench_->ok) << "could not build the veth bench";
    {
      NetnsGuard in_client(bench_->client_ns);
      ASSERT_TRUE(in_client.ok());
      auto client = query_interface(bench_->client_if);
      ASSERT_TRUE(client.ok()) << client.error().message();
      client_mac_ = client->mac;
    }
    // Without an skb to take a source from, the kernel solicits from a
    // link-local address, and the bench's is still in DAD for a second or
    // two; a long-running host has one ready.
    ASSERT_EQ(server("-6 addr add fe80::1/64 dev " + bench_->server_if + " nodad"), 0);
    // Start from nothing: the bench's own setup may have left entries.
    ASSERT_EQ(server("neigh flush dev " + bench_->server_if), 0);
    ASSERT_EQ(server("-6 neigh flush dev " + bench_->server_if), 0);
    in_server_ = std::make_unique<NetnsGuard>(bench_->server_ns);
    ASSERT_TRUE(in_server_->ok());
    auto info = query_interface(bench_->server_if);
    ASSERT_TRUE(info.ok()) << info.error().message();
    ifindex_ = info->ifindex;
  }
  void TearDown() override {
    in_server_.reset();
    bench_.reset();
  }

  int server(const std::string& ip_arguments) {
    return test::run("ip -n " + bench_->server_ns + " " + ip_arguments);
  }
  int server_sysctl(const std::string& setting) {
    return test::run("ip netns exec " + bench_->server_ns + " sysctl -w " + setting);
  }

  // The first call must start resolution (the table is empty); then it completes.
  void expect_resolves_from_empty(const char* address) {
    NeighbourTable table;
    auto first = table.resolve(ip(address), ifindex_);
    ASSERT_FALSE(first.ok()) << address << " resolved with an empty table";
    EXPECT_EQ(first.error().code, EAGAIN) << first.error().message();
    EXPECT_NE(first.error().message().find(address), std::string::npos) << first.error().message();
    EXPECT_NE(first.error().message().find(bench_->server_if), std::string::npos)
        << first.error().message();

    auto mac = table.resolve_wait(ip(address), ifindex_, 2000ms);
    ASSERT_TRUE(mac.ok()) << mac.error().message();
    EXPECT_EQ(mac.value(), client_mac_);
    auto cached = table.resolve(ip(address), ifindex_);
    ASSERT_TRUE(cached.ok()) << cached.error().message();
    EXPECT_EQ(cached.value(), client_mac_);
  }

  std::unique_ptr<VethBench> bench_;
  std::unique_ptr<NetnsGuard> in_server_;
  MacAddress client_mac_{};
  int ifindex_ = 0;
};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// ctest -R netlink selects these by name.
using netlink_neighbour = NeighbourTest;

TEST_F(netlink_neighbour, ResolvesIpv4PeerByArpFromEmptyTable) {
  LRP_REQUIRE_PRIVILEGES();
  expect_resolves_from_empty(VethBench::kClient4);
}

TEST_F(netlink_neighbour, ResolvesIpv6PeerByNdpFromEmptyTable) {
  LRP_REQUIRE_PRIVILEGES();
  expect_resolves_from_empty(VethBench::kClient6);
}

TEST_F(netlink_neighbour, RoutedDestinationResolvesToItsGateway) {
  LRP_REQUIRE_PRIVILEGES();
  ASSERT_EQ(server("route add 198.19.0.0/24 via " + std::string(VethBench::kClient4)), 0);
  ASSERT_EQ(server("-6 route add 2001:2:0:1::/64 via " + std::string(VethBench::kClient6)), 0);
  NeighbourTable table;
  for (const char* far : {"198.19.0.9", "2001:2:0:1::9"}) {
    auto mac = table.resolve_wait(ip(far), ifindex_, 2000ms);
    ASSERT_TRUE(mac.ok()) << far << ": " << mac.error().message();
    EXPECT_EQ(mac.value(), client_mac_) << far;
  }
}

TEST_F(netlink_neighbour, UsesEntriesInEveryUsableState) {
  LRP_REQUIRE_PRIVILEGES();
  const char* states[] = {"permanent", "reachable", "stale", "delay", "probe"};
  NeighbourTable table;
  for (int i = 0; i < 5; ++i) {
    const std::string address = "198.18.0." + std::to_string(50 + i);
    const std::string mac_text = "02:00:00:00:00:5" + std::to_string(i);
    ASSERT_EQ(server("neigh replace " + address + " lladdr " + mac_text + " dev " +
                     bench_->server_if + " nud " + states[i]),
              0)
        << states[i];
    auto mac = table.resolve(ip(address.c_str()), ifindex_);
    ASSERT_TRUE(mac.ok()) << states[i] << ": " << mac.error().message();
    EXPECT_EQ(mac.value(), (MacAddress{0x02, 0, 0, 0, 0, static_cast<uint8_t>(0x50 + i)}))
        << states[i];
  }
}

TEST_F(netlink_neighbour, SilentAddressFailsAfterTimeoutWithoutHanging) {
  LRP_REQUIRE_PRIVILEGES();
  NeighbourTable table;
  const auto start = Clock::now();
  auto mac = table.resolve_wait(ip("198.18.0.77"), ifindex_, 1500ms);
  const auto took = Clock::now() - start;
  ASSERT_FALSE(mac.ok());
  EXPECT_TRUE(mac.error().code == ETIMEDOUT || mac.error().code == EHOSTUNREACH)
      << mac.error().message();
  EXPECT_NE(mac.error().message().find("198.18.0.77"), std::string::npos) << mac.error().message();
  EXPECT_GE(took, 1400ms);
  EXPECT_LT(took, 2500ms);
}

TEST_F(netlink_neighbour, FailedProbesReportHostUnreachable) {
  LRP_REQUIRE_PRIVILEGES();
  // One probe, 100 ms apart: the kernel gives up on a silent host quickly.
  const std::string knobs = "net.ipv4.neigh." + bench_->server_if;
  ASSERT_EQ(server_sysctl(knobs + ".mcast_solicit=1"), 0);
  ASSERT_EQ(server_sysctl(knobs + ".ucast_solicit=0"), 0);
  ASSERT_EQ(server_sysctl(knobs + ".retrans_time_ms=100"), 0);
  NeighbourTable table;
  auto mac = table.resolve_wait(ip("198.18.0.78"), ifindex_, 1000ms);
  ASSERT_FALSE(mac.ok());
  EXPECT_EQ(mac.error().code, EHOSTUNREACH) << mac.error().message();
}

TEST_F(netlink_neighbour, NoRouteFailsAtOnce) {
  LRP_REQUIRE_PRIVILEGES();
  NeighbourTable table;
  const auto start = Clock::now();
  auto mac = table.resolve_wait(ip("2001:2:0:9::1"), ifindex_, 2000ms);
  ASSERT_FALSE(mac.ok());
  EXPECT_EQ(mac.error().code, ENETUNREACH) << mac.error().message();
  EXPECT_LT(Clock::now() - start, 500ms);
}

TEST_F(netlink_neighbour, MulticastAndBroadcastNeedNoNeighbour) {
  LRP_REQUIRE_PRIVILEGES();
  NeighbourTable table;
  auto v4 = table.resolve(ip("224.0.0.251"), ifindex_);
  ASSERT_TRUE(v4.ok()) << v4.error().message();
  EXPECT_EQ(v4.value(), (MacAddress{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}));
  auto v6 = table.resolve(ip("ff02::1:ff00:2"), ifindex_);
  ASSERT_TRUE(v6.ok()) << v6.error().message();
  EXPECT_EQ(v6.value(), (MacAddress{0x33, 0x33, 0xff, 0x00, 0x00, 0x02}));
  auto broadcast = table.resolve(ip("198.18.0.255"), ifindex_);
  ASSERT_TRUE(broadcast.ok()) << broadcast.error().message();
  EXPECT_EQ(broadcast.value(), (MacAddress{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

TEST_F(netlink_neighbour, OwnAddressesAndOtherInterfacesAreNotOursToSendTo) {
  LRP_REQUIRE_PRIVILEGES();
  NeighbourTable table;
  for (const char* own : {VethBench::kServer4, VethBench::kServer6, "127.0.0.1"}) {
    auto r = table.route(ip(own), ifindex_);
    ASSERT_FALSE(r.ok()) << own;
    EXPECT_EQ(r.error().code, EXDEV) << r.error().message();
  }
  ASSERT_EQ(server("route add 198.19.9.0/24 dev lo"), 0);
  auto r = table.route(ip("198.19.9.1"), ifindex_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EXDEV) << r.error().message();
}

TEST_F(netlink_neighbour, RouteMtuIsReported) {
  LRP_REQUIRE_PRIVILEGES();
  ASSERT_EQ(server("route add 198.19.1.0/24 via " + std::string(VethBench::kClient4) + " mtu 1280"),
            0);
  NeighbourTable table;
  auto r = table.route(ip("198.19.1.1"), ifindex_);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->mtu, 1280u);
  ASSERT_TRUE(r->next_hop.has_value());
  EXPECT_EQ(r->next_hop->address, ip(VethBench::kClient4));
  auto on_link = table.route(ip(VethBench::kClient4), ifindex_);
  ASSERT_TRUE(on_link.ok()) << on_link.error().message();
  EXPECT_EQ(on_link->mtu, 0u);  // the device's
}

TEST_F(netlink_neighbour, ResolverFollowsTheKernelsNeighbourAndLinkChanges) {
  LRP_REQUIRE_PRIVILEGES();
  auto info = query_interface(bench_->server_if);
  ASSERT_TRUE(info.ok());
  auto opened = NeighbourResolver::open(info.value());
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  NeighbourResolver& r = *opened.value();
  const IpAddress peer = ip("198.18.0.40");
  ASSERT_EQ(server("neigh replace 198.18.0.40 lladdr 02:00:00:00:00:40 dev " + bench_->server_if +
                   " nud reachable"),
            0);
  auto a = r.lookup(peer, now_ns());
  ASSERT_TRUE(a.ok()) << a.error().message();
  ASSERT_TRUE(a->ready);
  EXPECT_EQ(a->path.mac, (MacAddress{2, 0, 0, 0, 0, 0x40}));
  EXPECT_EQ(a->path.mtu, 1500u);
  const uint64_t lookups = r.counters().lookups.load();
  // Cached: no question to the kernel.
  ASSERT_TRUE(r.lookup(peer, now_ns()).ok());
  EXPECT_EQ(r.counters().lookups.load(), lookups);
  // The peer moves: the notification makes the cached answer old at once.
  const uint64_t generation = r.generation();
  ASSERT_EQ(server("neigh replace 198.18.0.40 lladdr 02:00:00:00:00:41 dev " + bench_->server_if +
                   " nud reachable"),
            0);
  const auto deadline = Clock::now() + 2s;
  while (r.generation() == generation && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_NE(r.generation(), generation);
  a = r.lookup(peer, now_ns());
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->path.mac, (MacAddress{2, 0, 0, 0, 0, 0x41}));
  // The interface's MTU changes: so does every path's.
  ASSERT_EQ(server("link set " + bench_->server_if + " mtu 1400"), 0);
  while (r.device_mtu() != 1400 && Clock::now() < deadline + 2s) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(r.device_mtu(), 1400u);
  a = r.lookup(peer, now_ns());
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->path.mtu, 1400u);
}

}  // namespace
}  // namespace lrp
