// XdpProgram's map methods on a program attached to a veth: reuseport groups,
// multicast references, addresses, the interface and the XSKMAP's rows, as
// the maps hold them afterwards.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "lrp/netdev.h"
#include "lrp/xdp_program.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp {
namespace {

using test::NetnsGuard;
using test::VethBench;

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? a.value() : IpAddress();
}

lrp_flow_key wildcard_key(uint16_t port) {
  lrp_flow_key key;
  std::memset(&key, 0, sizeof(key));
  key.kind = LRP_FLOW_WILDCARD;
  key.family = 4;
  key.local_port = htons(port);
  return key;
}

class bpf_xdp_program_api : public ::testing::Test {
 protected:
  void SetUp() override {
    LRP_REQUIRE_PRIVILEGES();
    bench_ = std::make_unique<VethBench>("xapi");
    ASSERT_TRUE(bench_->ok);
    guard_ = std::make_unique<NetnsGuard>(bench_->server_ns);
    ASSERT_TRUE(guard_->ok());
    auto info = query_interface(bench_->server_if);
    ASSERT_TRUE(info.ok()) << info.error().message();
    auto program = XdpProgram::attach(info->ifindex, bench_->server_if, XdpMode::Native);
    ASSERT_TRUE(program.ok()) << program.error().message();
    p_ = std::move(program.value());
  }
  void TearDown() override {
    p_.reset();
    guard_.reset();
    bench_.reset();
  }

  std::vector<SlotId> members(const lrp_flow_key& key) {
    auto m = p_->reuseport_members(key);
    EXPECT_TRUE(m.ok()) << m.error().message();
    return m.ok() ? m.value() : std::vector<SlotId>{};
  }

  std::unique_ptr<VethBench> bench_;
  std::unique_ptr<NetnsGuard> guard_;
  std::unique_ptr<XdpProgram> p_;
};

TEST_F(bpf_xdp_program_api, ReuseportGroupsGrowShrinkAndVanish) {
  const lrp_flow_key key = wildcard_key(9000);
  EXPECT_TRUE(members(key).empty());
  ASSERT_TRUE(p_->add_reuseport_member(key, 4).ok());
  ASSERT_TRUE(p_->add_reuseport_member(key, 7).ok());
  ASSERT_TRUE(p_->add_reuseport_member(key, 9).ok());
  EXPECT_EQ(members(key), (std::vector<SlotId>{4, 7, 9}));
  EXPECT_EQ(p_->add_reuseport_member(key, 7).error().code, EEXIST);
  // A plain bind cannot take a reuseport port, nor join a plain one.
  EXPECT_EQ(p_->add_flow(key, 11).error().code, EADDRINUSE);
  const lrp_flow_key plain = wildcard_key(9001);
  ASSERT_TRUE(p_->add_flow(plain, 12).ok());
  EXPECT_EQ(p_->add_reuseport_member(plain, 13).error().code, EADDRINUSE);
  EXPECT_EQ(p_->remove_reuseport_member(plain, 12).error().code, ENOENT);

  // The last member moves into the leaver's place.
  ASSERT_TRUE(p_->remove_reuseport_member(key, 4).ok());
  EXPECT_EQ(members(key), (std::vector<SlotId>{9, 7}));
  EXPECT_EQ(p_->remove_reuseport_member(key, 4).error().code, ENOENT);
  ASSERT_TRUE(p_->remove_reuseport_member(key, 7).ok());
  ASSERT_TRUE(p_->remove_reuseport_member(key, 9).ok());
  EXPECT_TRUE(members(key).empty());
  // The flow went with the last member: a plain bind may take the port now.
  EXPECT_TRUE(p_->add_flow(key, 11).ok());
}

TEST_F(bpf_xdp_program_api, ReuseportLimitsAreErrorsThatSayWhy) {
  const lrp_flow_key key = wildcard_key(9100);
  for (SlotId s = 0; s < LRP_REUSEPORT_MAX; ++s) ASSERT_TRUE(p_->add_reuseport_member(key, s).ok());
  auto full = p_->add_reuseport_member(key, LRP_REUSEPORT_MAX);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ENOSPC);
  EXPECT_NE(full.error().message().find("members"), std::string::npos) << full.error().message();
  EXPECT_EQ(p_->add_reuseport_member(wildcard_key(9101), LRP_MAX_SLOTS).error().code, EINVAL);

  // Every group index in use: the next group is refused; removing a whole
  // group with remove_flow frees its index.
  for (uint16_t port = 1; port < LRP_MAX_REUSEPORT_GROUPS; ++port)
    ASSERT_TRUE(p_->add_reuseport_member(wildcard_key(10000 + port), 1).ok()) << port;
  EXPECT_EQ(p_->add_reuseport_member(wildcard_key(9200), 1).error().code, ENOSPC);
  ASSERT_TRUE(p_->remove_flow(key).ok());
  EXPECT_TRUE(members(key).empty());
  EXPECT_TRUE(p_->add_reuseport_member(wildcard_key(9200), 1).ok());
}

TEST_F(bpf_xdp_program_api, GroupsAreReferenceCounted) {
  const IpAddress g = ip("239.1.2.3");
  ASSERT_TRUE(p_->join_group(g).ok());
  ASSERT_TRUE(p_->join_group(g).ok());
  ASSERT_TRUE(p_->join_group(ip("ff05::1:3")).ok());
  auto groups = p_->groups();
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(groups.value(),
            (std::vector<std::pair<IpAddress, uint32_t>>{{g, 2}, {ip("ff05::1:3"), 1}}));
  ASSERT_TRUE(p_->leave_group(g).ok());
  ASSERT_TRUE(p_->leave_group(g).ok());
  EXPECT_EQ(p_->leave_group(g).error().code, ENOENT);
  groups = p_->groups();
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(groups->size(), 1u);
  EXPECT_EQ(p_->join_group(ip("198.18.0.1")).error().code, EINVAL);
}

TEST_F(bpf_xdp_program_api, AddressesInterfaceAndSocketsAreChecked) {
  EXPECT_EQ(p_->add_address(ip("198.18.0.1"), 0).error().code, EINVAL);
  EXPECT_EQ(p_->add_address(ip("198.18.0.1"), 8).error().code, EINVAL);
  ASSERT_TRUE(p_->add_address(ip("198.18.0.1"), AddressFlags::Local).ok());
  ASSERT_TRUE(p_->add_address(ip("198.18.0.255"), AddressFlags::Broadcast).ok());
  ASSERT_TRUE(
      p_->add_address(ip("198.18.0.1"), AddressFlags::Local | AddressFlags::Broadcast).ok());
  auto a = p_->addresses();
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value(), (std::vector<std::pair<IpAddress, uint32_t>>{
                           {ip("198.18.0.1"), AddressFlags::Local | AddressFlags::Broadcast},
                           {ip("198.18.0.255"), AddressFlags::Broadcast}}));
  ASSERT_TRUE(p_->remove_address(ip("198.18.0.255")).ok());
  EXPECT_EQ(p_->remove_address(ip("198.18.0.255")).error().code, ENOENT);

  EXPECT_TRUE(p_->set_interface({2, 0, 0, 0, 0, 1}, 4094).ok());
  EXPECT_EQ(p_->set_interface({2, 0, 0, 0, 0, 1}, 4095).error().code, EINVAL);

  // The XSKMAP has LRP_MAX_QUEUES rows of LRP_MAX_SLOTS.
  auto beyond = p_->set_socket(LRP_MAX_QUEUES, 0, -1);
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.error().code, EINVAL);
  EXPECT_NE(beyond.error().message().find("queue"), std::string::npos);
  EXPECT_EQ(p_->set_socket(0, LRP_MAX_SLOTS, -1).error().code, EINVAL);
  EXPECT_TRUE(p_->clear_socket(LRP_MAX_QUEUES - 1, LRP_MAX_SLOTS - 1).ok());
}

}  // namespace
}  // namespace lrp
