// Interface queries over rtnetlink, from inside a veth bench's server namespace.
#include "lrp/netdev.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp {
namespace {

using test::NetnsGuard;
using test::VethBench;

// The classic ioctl: a second opinion that does not go through rtnetlink.
MacAddress mac_by_ioctl(const std::string& name) {
  MacAddress mac{};
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq request{};
  std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &request) == 0)
    std::memcpy(mac.data(), request.ifr_hwaddr.sa_data, mac.size());
  if (fd >= 0) close(fd);
  return mac;
}

bool has_address(const std::vector<IpAddress>& addresses, const char* text) {
  auto wanted = IpAddress::parse(text);
  return wanted.ok() &&
         std::find(addresses.begin(), addresses.end(), wanted.value()) != addresses.end();
}

std::string ip_in(const std::string& netns) {
  return "ip -n " + netns + " ";
}

// Suite names start with netlink so that ctest -R netlink selects them.
TEST(netlink_query_interface, ReportsIndexMacMtuStateAddressesAndQueues) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("ndq");
  ASSERT_TRUE(bench.ok);
  ASSERT_EQ(test::run(ip_in(bench.server_ns) + "link set " + bench.server_if + " mtu 1400"), 0);
  NetnsGuard in_server(bench.server_ns);
  ASSERT_TRUE(in_server.ok());

  auto info = query_interface(bench.server_if);
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->ifindex, static_cast<int>(if_nametoindex(bench.server_if.c_str())));
  EXPECT_EQ(info->name, bench.server_if);
  EXPECT_EQ(info->mac, mac_by_ioctl(bench.server_if));
  EXPECT_NE(info->mac, MacAddress{});
  EXPECT_EQ(info->mtu, 1400u);
  EXPECT_TRUE(info->up);
  EXPECT_EQ(info->rx_queues, 1u);
  EXPECT_TRUE(has_address(info->addresses, VethBench::kServer4));
  EXPECT_TRUE(has_address(info->addresses, VethBench::kServer6));
  EXPECT_FALSE(has_address(info->addresses, VethBench::kClient4));
  // Global before link-local, so the first IPv6 address is a usable source.
  auto first_v6 = std::find_if(info->addresses.begin(), info->addresses.end(),
                               [](const IpAddress& a) { return !a.is_v4(); });
  ASSERT_NE(first_v6, info->addresses.end());
  EXPECT_EQ(first_v6->to_string(), VethBench::kServer6);
}

TEST(netlink_query_interface, UnknownNameIsEnodevNamingTheInterface) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("ndu");
  ASSERT_TRUE(bench.ok);
  NetnsGuard in_server(bench.server_ns);
  ASSERT_TRUE(in_server.ok());

  for (const std::string name : {"lrpnosuch0", "a-name-far-too-long-for-linux"}) {
    auto info = query_interface(name);
    ASSERT_FALSE(info.ok()) << name;
    EXPECT_EQ(info.error().code, ENODEV) << name;
    EXPECT_NE(info.error().message().find("interface " + name + " not found"), std::string::npos)
        << info.error().message();
  }
  // The client's end lives in the other namespace: not found here either.
  auto other_side = query_interface(bench.client_if);
  ASSERT_FALSE(other_side.ok());
  EXPECT_EQ(other_side.error().code, ENODEV);
}

TEST(netlink_query_interface, CountsOnlyActiveReceiveQueues) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("ndrq");
  ASSERT_TRUE(bench.ok);
  // A private multi-queue pair inside the server namespace, trimmed to 2 of 4.
  const std::string ns = bench.server_ns;
  ASSERT_EQ(test::run(ip_in(ns) + "link add lrpmq0 numrxqueues 4 numtxqueues 4 type veth peer " +
                      "name lrpmq1 numrxqueues 4 numtxqueues 4"),
            0);
  ASSERT_EQ(test::run("ip netns exec " + ns + " ethtool -L lrpmq0 rx 2 tx 2"), 0);
  NetnsGuard in_server(ns);
  ASSERT_TRUE(in_server.ok());
  auto trimmed = query_interface("lrpmq0");
  ASSERT_TRUE(trimmed.ok()) << trimmed.error().message();
  EXPECT_EQ(trimmed->rx_queues, 2u);
  auto untouched = query_interface("lrpmq1");
  ASSERT_TRUE(untouched.ok()) << untouched.error().message();
  EXPECT_EQ(untouched->rx_queues, 4u);
}

TEST(netlink_interface_driver, NamesVethAndWhoPassesPartialChecksums) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("drv");
  ASSERT_TRUE(bench.ok);
  NetnsGuard in_server(bench.server_ns);
  ASSERT_TRUE(in_server.ok());
  auto driver = interface_driver(bench.server_if);
  ASSERT_TRUE(driver.ok()) << driver.error().message();
  EXPECT_EQ(driver.value(), "veth");
  auto partial = driver_may_pass_partial_checksums(bench.server_if);
  ASSERT_TRUE(partial.ok());
  EXPECT_TRUE(partial.value());
  // Loopback has no driver information of this kind, and no partial sums reach XDP from it.
  auto lo = driver_may_pass_partial_checksums("lo");
  ASSERT_TRUE(lo.ok()) << lo.error().message();
  EXPECT_FALSE(lo.value());
  auto missing = interface_driver("lrp-nonesuch");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENODEV);
  EXPECT_NE(missing.error().message().find("lrp-nonesuch"), std::string::npos);
  // NICs hand over what the wire carried.
  for (const char* nic : {"virtio_net", "mlx5_core", "ixgbe", "i40e", "ena", ""})
    EXPECT_FALSE(driver_passes_partial_checksums(nic)) << nic;
}

TEST(netlink_interface_is_up, FollowsAdministrativeStateAndCarrier) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("ndup");
  ASSERT_TRUE(bench.ok);
  NetnsGuard in_server(bench.server_ns);
  ASSERT_TRUE(in_server.ok());
  auto info = query_interface(bench.server_if);
  ASSERT_TRUE(info.ok()) << info.error().message();
  const std::string server = ip_in(bench.server_ns) + "link set " + bench.server_if;
  const std::string client = ip_in(bench.client_ns) + "link set " + bench.client_if;

  auto up = interface_is_up(info->ifindex);
  ASSERT_TRUE(up.ok()) << up.error().message();
  EXPECT_TRUE(up.value());

  ASSERT_EQ(test::run(server + " down"), 0);
  up = interface_is_up(info->ifindex);
  ASSERT_TRUE(up.ok()) << up.error().message();
  EXPECT_FALSE(up.value());

  ASSERT_EQ(test::run(server + " up"), 0);
  up = interface_is_up(info->ifindex);
  ASSERT_TRUE(up.ok()) << up.error().message();
  EXPECT_TRUE(up.value());

  // Administratively up but no carrier: frames cannot flow.
  ASSERT_EQ(test::run(client + " down"), 0);
  up = interface_is_up(info->ifindex);
  ASSERT_TRUE(up.ok()) << up.error().message();
  EXPECT_FALSE(up.value());

  auto gone = interface_is_up(info->ifindex + 1000);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ENODEV);
}

}  // namespace
}  // namespace lrp
