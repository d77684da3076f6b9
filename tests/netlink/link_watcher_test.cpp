// LinkWatcher on a veth bench: down, up and deletion of the server's end are
// reported once each; changes that keep the state are not.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <vector>

#include "lrp/netdev.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp {
namespace {

using namespace std::chrono_literals;
using test::NetnsGuard;
using test::VethBench;
using Clock = std::chrono::steady_clock;

// Events for ifindex that arrive within `wait`, as an engine's loop would see them.
std::vector<LinkState> collect(LinkWatcher& watcher, int ifindex, std::chrono::milliseconds wait,
                               size_t enough) {
  std::vector<LinkState> states;
  const auto deadline = Clock::now() + wait;
  while (states.size() < enough && Clock::now() < deadline) {
    pollfd p{watcher.fd(), POLLIN, 0};
    if (poll(&p, 1, 50) < 0) break;
    auto events = watcher.poll_events();
    EXPECT_TRUE(events.ok()) << events.error().message();
    if (!events.ok()) break;
    for (const auto& e : events.value())
      if (e.ifindex == ifindex) states.push_back(e.state);
  }
  return states;
}

// Suite names start with netlink so that ctest -R netlink selects them.
TEST(netlink_link_watcher, ReportsDownUpAndDeletion) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("lnkw");
  ASSERT_TRUE(bench.ok);
  NetnsGuard in_server(bench.server_ns);
  ASSERT_TRUE(in_server.ok());
  auto info = query_interface(bench.server_if);
  ASSERT_TRUE(info.ok()) << info.error().message();
  auto watcher = LinkWatcher::open();
  ASSERT_TRUE(watcher.ok()) << watcher.error().message();
  const std::string ip = "ip -n " + bench.server_ns + " link ";

  // The state at open() is recorded, not reported.
  EXPECT_TRUE(collect(watcher.value(), info->ifindex, 100ms, 1).empty());

  ASSERT_EQ(test::run(ip + "set " + bench.server_if + " down"), 0);
  EXPECT_EQ(collect(watcher.value(), info->ifindex, 2000ms, 1),
            std::vector<LinkState>{LinkState::Down});

  ASSERT_EQ(test::run(ip + "set " + bench.server_if + " up"), 0);
  EXPECT_EQ(collect(watcher.value(), info->ifindex, 2000ms, 1),
            std::vector<LinkState>{LinkState::Up});

  // An attribute change is notified by the kernel but is no state change.
  ASSERT_EQ(test::run(ip + "set " + bench.server_if + " mtu 1280"), 0);
  EXPECT_TRUE(collect(watcher.value(), info->ifindex, 300ms, 1).empty());

  // Deleting a running link first takes it down, then removes it.
  ASSERT_EQ(test::run(ip + "del " + bench.server_if), 0);
  const auto states = collect(watcher.value(), info->ifindex, 2000ms, 2);
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back(), LinkState::Deleted);
}

TEST(netlink_link_watcher, PeerGoingDownIsLossOfCarrier) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("lnkc");
  ASSERT_TRUE(bench.ok);
  NetnsGuard in_server(bench.server_ns);
  ASSERT_TRUE(in_server.ok());
  auto info = query_interface(bench.server_if);
  ASSERT_TRUE(info.ok()) << info.error().message();
  auto watcher = LinkWatcher::open();
  ASSERT_TRUE(watcher.ok()) << watcher.error().message();
  const std::string client = "ip -n " + bench.client_ns + " link set " + bench.client_if;

  ASSERT_EQ(test::run(client + " down"), 0);
  EXPECT_EQ(collect(watcher.value(), info->ifindex, 2000ms, 1),
            std::vector<LinkState>{LinkState::Down});
  ASSERT_EQ(test::run(client + " up"), 0);
  EXPECT_EQ(collect(watcher.value(), info->ifindex, 2000ms, 1),
            std::vector<LinkState>{LinkState::Up});
}

TEST(netlink_link_watcher, RecoversFromLostNotifications) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("lnkl");
  ASSERT_TRUE(bench.ok);
  const std::string ip = "ip -n " + bench.server_ns + " link ";
  ASSERT_EQ(test::run(ip + "add lrpgone0 type veth peer name lrpgone1"), 0);
  NetnsGuard in_server(bench.server_ns);
  ASSERT_TRUE(in_server.ok());
  auto info = query_interface(bench.server_if);
  ASSERT_TRUE(info.ok()) << info.error().message();
  auto gone = query_interface("lrpgone0");
  ASSERT_TRUE(gone.ok()) << gone.error().message();
  auto watcher = LinkWatcher::open();
  ASSERT_TRUE(watcher.ok()) << watcher.error().message();
  // A queue with room for about one notification: the kernel drops the rest.
  const int tiny = 1;
  ASSERT_EQ(setsockopt(watcher->fd(), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof(tiny)), 0);

  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(test::run(ip + "set " + bench.server_if + " down"), 0);
    ASSERT_EQ(test::run(ip + "set " + bench.server_if + " up"), 0);
  }
  ASSERT_EQ(test::run(ip + "set " + bench.server_if + " down"), 0);
  ASSERT_EQ(test::run(ip + "del lrpgone0"), 0);

  // Whatever was dropped, the last word on each link matches the kernel's.
  std::vector<LinkState> server_states, gone_states;
  const auto deadline = Clock::now() + 2000ms;
  while (Clock::now() < deadline) {
    pollfd p{watcher->fd(), POLLIN, 0};
    ASSERT_GE(poll(&p, 1, 50), 0);
    auto events = watcher->poll_events();
    ASSERT_TRUE(events.ok()) << events.error().message();
    for (const auto& e : events.value()) {
      if (e.ifindex == info->ifindex) server_states.push_back(e.state);
      if (e.ifindex == gone->ifindex) gone_states.push_back(e.state);
    }
    if (!gone_states.empty() && gone_states.back() == LinkState::Deleted &&
        !server_states.empty() && server_states.back() == LinkState::Down)
      break;
  }
  ASSERT_FALSE(server_states.empty());
  EXPECT_EQ(server_states.back(), LinkState::Down);
  ASSERT_FALSE(gone_states.empty());
  EXPECT_EQ(gone_states.back(), LinkState::Deleted);
}

}  // namespace
}  // namespace lrp
