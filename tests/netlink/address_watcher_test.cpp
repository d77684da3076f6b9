// AddressWatcher: which addresses XDP must treat as this host's, and keeping
// the XDP program's map in step with the kernel's view of a veth bench's
// server interface while addresses come and go.
#include "lrp/address_watcher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lrp/xdp_program.h"
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
  return a.ok() ? a.value() : IpAddress();
}

InterfaceAddress entry(const char* address, uint8_t prefix,
                       std::optional<const char*> broadcast = std::nullopt) {
  InterfaceAddress e;
  e.address = ip(address);
  e.prefix_len = prefix;
  if (broadcast) e.broadcast = ip(*broadcast);
  return e;
}

constexpr uint32_t L = AddressFlags::Local;
constexpr uint32_t B = AddressFlags::Broadcast;

// Suite names start with netlink so that ctest -R netlink selects them.
TEST(netlink_host_addresses, FollowTheKernelsLocalTable) {
  // A /24: the address, its subnet's broadcast and the limited broadcast.
  EXPECT_EQ(host_addresses({entry("198.18.0.1", 24)}),
            (std::map<IpAddress, uint32_t>{
                {ip("198.18.0.1"), L}, {ip("198.18.0.255"), B}, {ip("255.255.255.255"), B}}));
  // /31 and /32 have no subnet broadcast (RFC 3021, host routes).
  EXPECT_EQ(host_addresses({entry("198.18.0.1", 31), entry("198.18.1.1", 32)}),
            (std::map<IpAddress, uint32_t>{
                {ip("198.18.0.1"), L}, {ip("198.18.1.1"), L}, {ip("255.255.255.255"), B}}));
  // An explicit broadcast address counts as well as the computed one; two
  // addresses of one subnet share its broadcast.
  EXPECT_EQ(host_addresses({entry("198.18.0.1", 16, "198.18.0.127"), entry("198.18.0.2", 16)}),
            (std::map<IpAddress, uint32_t>{{ip("198.18.0.1"), L},
                                           {ip("198.18.0.2"), L},
                                           {ip("198.18.0.127"), B},
                                           {ip("198.18.255.255"), B},
                                           {ip("255.255.255.255"), B}}));
  // IPv6 has no broadcast, and alone brings no limited broadcast.
  EXPECT_EQ(host_addresses({entry("2001:2::1", 64), entry("fe80::1", 64)}),
            (std::map<IpAddress, uint32_t>{{ip("2001:2::1"), L}, {ip("fe80::1"), L}}));
  EXPECT_TRUE(host_addresses({}).empty());
}

// Collects the watcher's callbacks for the test thread.
struct Changes {
  std::mutex mutex;
  std::vector<AddressChange> seen;
  std::vector<std::string> errors;
};

class AddressWatcherLive : public ::testing::Test {
 protected:
  void SetUp() override {
    LRP_REQUIRE_PRIVILEGES();
    bench_ = std::make_unique<VethBench>("addrw");
    ASSERT_TRUE(bench_->ok);
    guard_ = std::make_unique<NetnsGuard>(bench_->server_ns);
    ASSERT_TRUE(guard_->ok());
    auto info = query_interface(bench_->server_if);
    ASSERT_TRUE(info.ok()) << info.error().message();
    ifindex_ = info->ifindex;
    auto program = XdpProgram::attach(ifindex_, bench_->server_if, XdpMode::Native);
    ASSERT_TRUE(program.ok()) << program.error().message();
    program_ = std::move(program.value());
  }

  void TearDown() override {
    watcher_.reset();
    program_.reset();
    guard_.reset();
    bench_.reset();
  }

  void start() {
    auto w = AddressWatcher::start(
        ifindex_, *program_,
        [this](const AddressChange& c) {
          std::lock_guard lock(changes_.mutex);
          changes_.seen.push_back(c);
        },
        [this](const Error& e) {
          std::lock_guard lock(changes_.mutex);
          changes_.errors.push_back(e.message());
        });
    ASSERT_TRUE(w.ok()) << w.error().message();
    watcher_ = std::move(w.value());
  }

  std::map<IpAddress, uint32_t> in_map() {
    std::map<IpAddress, uint32_t> out;
    auto a = program_->addresses();
    EXPECT_TRUE(a.ok()) << a.error().message();
    if (a.ok())
      for (const auto& [address, flags] : a.value()) out[address] = flags;
    return out;
  }

  // Waits until the map holds address with flags (0: until it is gone).
  bool wait_for(const char* address, uint32_t flags, std::chrono::milliseconds limit = 3000ms) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      auto m = in_map();
      auto it = m.find(ip(address));
      const uint32_t now = it == m.end() ? 0 : it->second;
      if (now == flags) return true;
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
  }

  int run_ip(const std::string& args) {
    return test::run("ip -n " + bench_->server_ns + " " + args + " dev " + bench_->server_if);
  }

  std::unique_ptr<VethBench> bench_;
  std::unique_ptr<NetnsGuard> guard_;
  int ifindex_ = 0;
  std::unique_ptr<XdpProgram> program_;
  std::unique_ptr<AddressWatcher> watcher_;
  Changes changes_;
};

// Suite name for ctest -R netlink.
using netlink_address_watcher = AddressWatcherLive;

TEST_F(netlink_address_watcher, StartFillsTheMapWithTheInterfacesAddresses) {
  EXPECT_TRUE(in_map().empty()) << "a fresh program knows no address";
  ASSERT_NO_FATAL_FAILURE(start());
  auto m = in_map();
  EXPECT_EQ(m[ip(VethBench::kServer4)], L);
  EXPECT_EQ(m[ip("198.18.0.255")], B);
  EXPECT_EQ(m[ip("255.255.255.255")], B);
  EXPECT_EQ(m[ip(VethBench::kServer6)], L);
  // The link-local address the kernel gave the interface.
  auto info = query_interface(bench_->server_if);
  ASSERT_TRUE(info.ok());
  bool link_local = false;
  for (const IpAddress& a : info->addresses)
    if (!a.is_v4() && a.bytes()[0] == 0xfe && (a.bytes()[1] & 0xc0) == 0x80)
      link_local = link_local || m[a] == L;
  EXPECT_TRUE(link_local);
  // Nothing of the client's.
  EXPECT_EQ(m.count(ip(VethBench::kClient4)), 0u);
  EXPECT_EQ(m.count(ip(VethBench::kClient6)), 0u);
  EXPECT_EQ(watcher_->applied(), m);
}

TEST_F(netlink_address_watcher, FollowsAddressesAddedAndRemoved) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(run_ip("addr add 198.18.1.1/24"), 0);
  EXPECT_TRUE(wait_for("198.18.1.1", L));
  EXPECT_TRUE(wait_for("198.18.1.255", B));
  ASSERT_EQ(run_ip("addr add 2001:2:0:1::1/64 nodad"), 0);
  EXPECT_TRUE(wait_for("2001:2:0:1::1", L));

  ASSERT_EQ(run_ip("addr del 198.18.1.1/24"), 0);
  EXPECT_TRUE(wait_for("198.18.1.1", 0));
  EXPECT_TRUE(wait_for("198.18.1.255", 0));
  // The other subnet's broadcast and the limited broadcast stay.
  EXPECT_EQ(in_map()[ip("198.18.0.255")], B);
  EXPECT_EQ(in_map()[ip("255.255.255.255")], B);
  ASSERT_EQ(run_ip("addr del 2001:2:0:1::1/64"), 0);
  EXPECT_TRUE(wait_for("2001:2:0:1::1", 0));

  // The last IPv4 address takes the limited broadcast with it.
  ASSERT_EQ(run_ip("addr del 198.18.0.1/24"), 0);
  EXPECT_TRUE(wait_for(VethBench::kServer4, 0));
  EXPECT_TRUE(wait_for("255.255.255.255", 0));
  EXPECT_EQ(in_map()[ip(VethBench::kServer6)], L);

  std::lock_guard lock(changes_.mutex);
  EXPECT_TRUE(changes_.errors.empty()) << changes_.errors.front();
  bool added = false, removed = false;
  for (const AddressChange& c : changes_.seen) {
    added = added || (c.address == ip("198.18.1.1") && c.flags == L);
    removed = removed || (c.address == ip("198.18.1.1") && c.flags == 0);
  }
  EXPECT_TRUE(added && removed) << "on_change saw the address come and go";
}

TEST_F(netlink_address_watcher, AnAddressIsLocalOnlyOnceDuplicateDetectionPassed) {
  // The kernel does not deliver to a tentative IPv6 address; neither may XDP.
  ASSERT_EQ(test::run("ip netns exec " + bench_->server_ns + " sysctl -qw net.ipv6.conf." +
                      bench_->server_if + ".accept_dad=1"),
            0);
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(run_ip("addr add 2001:2:0:2::1/64"), 0);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(in_map().count(ip("2001:2:0:2::1")), 0u) << "taken while tentative";
  EXPECT_TRUE(wait_for("2001:2:0:2::1", L, 5000ms)) << "never taken after detection";
}

TEST_F(netlink_address_watcher, StopsCleanlyAndLeavesTheMapAsItWas) {
  ASSERT_NO_FATAL_FAILURE(start());
  EXPECT_TRUE(watcher_->running());
  const auto before = in_map();
  watcher_.reset();
  ASSERT_EQ(run_ip("addr add 198.18.3.1/24"), 0);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(in_map(), before) << "a stopped watcher changed the map";
}

}  // namespace
}  // namespace lrp
