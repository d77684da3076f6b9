// Socket options by name and value, and the errors a misconfigured stack
// reports before touching any device.
#include <gtest/gtest.h>

#include "sockets/api/lrp_sockets.h"

namespace lrp::sockets {
namespace {

TEST(SocketOptions, NamesRoundTrip) {
  for (Option o : {Option::ReceiveQueueBound, Option::ApplicationWeight, Option::HeldFrames,
                   Option::ReceiveLocalAddress}) {
    auto parsed = parse_option(to_string(o));
    ASSERT_TRUE(parsed.ok()) << to_string(o);
    EXPECT_EQ(parsed.value(), o);
  }
}

TEST(SocketOptions, UnsupportedOptionIsRefusedByName) {
  auto parsed = parse_option("reuseport");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, ENOPROTOOPT);
  EXPECT_NE(parsed.error().message().find("reuseport"), std::string::npos);
}

TEST(SocketOptions, SetAndGet) {
  SocketConfig c;
  ASSERT_TRUE(set_option(c, Option::ReceiveQueueBound, 64).ok());
  ASSERT_TRUE(set_option(c, Option::ApplicationWeight, 3).ok());
  ASSERT_TRUE(set_option(c, Option::HeldFrames, 128).ok());
  ASSERT_TRUE(set_option(c, Option::ReceiveLocalAddress, 1).ok());
  EXPECT_EQ(c.application.queue_bound, 64u);
  EXPECT_EQ(c.application.weight, 3u);
  EXPECT_EQ(c.application.held_cap, 128u);
  EXPECT_TRUE(c.receive_local_address);
  EXPECT_EQ(get_option(c, Option::ApplicationWeight), 3);
  EXPECT_EQ(get_option(c, Option::ReceiveLocalAddress), 1);
}

TEST(SocketOptions, OutOfRangeValuesAreRefused) {
  SocketConfig c;
  EXPECT_EQ(set_option(c, Option::ApplicationWeight, 0).error().code, EINVAL);
  EXPECT_EQ(set_option(c, Option::ReceiveQueueBound, -1).error().code, EINVAL);
  EXPECT_EQ(set_option(c, Option::ReceiveLocalAddress, 2).error().code, EINVAL);
  EXPECT_EQ(c.application.weight, 1u);  // unchanged
}

TEST(SocketOptions, ListAppliesEveryItemOrReportsTheBadOne) {
  SocketConfig c;
  ASSERT_TRUE(apply_option_list(c, "application=dns,weight=4,queue_bound=256,pktinfo=1").ok());
  EXPECT_EQ(c.application.name, "dns");
  EXPECT_EQ(c.application.weight, 4u);
  EXPECT_EQ(c.application.queue_bound, 256u);
  EXPECT_TRUE(c.receive_local_address);
  EXPECT_EQ(apply_option_list(c, "weight=x").error().code, EINVAL);
  EXPECT_EQ(apply_option_list(c, "weight").error().code, EINVAL);
  EXPECT_EQ(apply_option_list(c, "nagle=1").error().code, ENOPROTOOPT);
}

TEST(StackOpen, UnknownInterfaceIsNamed) {
  StackConfig config;
  config.in_process = true;
  config.ifname = "lrp-nosuch0";
  auto stack = Stack::open(config);
  ASSERT_FALSE(stack.ok());
  EXPECT_EQ(stack.error().code, ENODEV);
  EXPECT_NE(stack.error().message().find("lrp-nosuch0"), std::string::npos);
}

TEST(StackOpen, NoInterfaceIsAnErrorInProcess) {
  auto stack = Stack::open(StackConfig{.in_process = true});
  ASSERT_FALSE(stack.ok());
  EXPECT_EQ(stack.error().code, ENODEV);
}

// By default the stack is lrpd's: without a daemon the error says how to
// start one.
TEST(StackOpen, WithoutLrpdTheErrorSaysHowToStartIt) {
  StackConfig config;
  config.lrpd_socket = "/tmp/lrp-no-such-lrpd-" + std::to_string(getpid()) + ".sock";
  auto stack = Stack::open(config);
  ASSERT_FALSE(stack.ok());
  EXPECT_TRUE(stack.error().code == ENOENT || stack.error().code == ECONNREFUSED)
      << stack.error().message();
  EXPECT_NE(stack.error().message().find("lrpd"), std::string::npos) << stack.error().message();
}

}  // namespace
}  // namespace lrp::sockets
