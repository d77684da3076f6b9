// An interface follows its addresses while it is served: an address added
// later can be bound (and is answered from), one removed no longer can.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "lrp/interface.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp {
namespace {

using test::NetnsGuard;
using test::VethBench;
using namespace std::chrono_literals;

bool has(const Interface& iface, const IpAddress& a) {
  const auto now = iface.addresses();
  return std::find(now.begin(), now.end(), a) != now.end();
}

// Waits (bounded) until the interface's view of `a` is `present`.
bool settles(const Interface& iface, const IpAddress& a, bool present) {
  for (auto until = std::chrono::steady_clock::now() + 3s; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(10ms))
    if (has(iface, a) == present) return true;
  return false;
}

TEST(InterfaceAddresses, FollowsAddressesAddedAndRemovedWhileServed) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("ifad");
  ASSERT_TRUE(bench.ok) << "could not build the veth bench";
  NetnsGuard guard(bench.server_ns);
  ASSERT_TRUE(guard.ok());
  InterfaceConfig config;
  config.ifname = bench.server_if;
  auto iface = Interface::open(config);
  ASSERT_TRUE(iface.ok()) << iface.error().message();
  Interface& i = *iface.value();

  const IpAddress added = *IpAddress::parse("198.18.0.77");
  BindSpec bind;
  bind.local = added;
  bind.port = 7400;
  EXPECT_FALSE(i.open_socket(bind, {}).ok()) << "bound an address the interface does not have";

  ASSERT_EQ(
      test::run("ip -n " + bench.server_ns + " addr add 198.18.0.77/24 dev " + bench.server_if), 0);
  ASSERT_TRUE(settles(i, added, true)) << "the added address never reached the interface";
  auto slot = i.open_socket(bind, {});
  ASSERT_TRUE(slot.ok()) << slot.error().message();
  EXPECT_TRUE(i.close_socket(slot.value()).ok());

  ASSERT_EQ(
      test::run("ip -n " + bench.server_ns + " addr del 198.18.0.77/24 dev " + bench.server_if), 0);
  ASSERT_TRUE(settles(i, added, false)) << "the removed address stayed";
  EXPECT_FALSE(i.open_socket(bind, {}).ok());
  EXPECT_TRUE(has(i, *IpAddress::parse(VethBench::kServer4)));
}

}  // namespace
}  // namespace lrp
