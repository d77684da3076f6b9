// The echo servers' sockperf reply rule: sockperf's client accepts only
// replies with its CLIENT flag cleared, and expects none for messages that
// do not ask for one; everything else is echoed as it came.
#include "apps/sockperf_reply.h"

#include <gtest/gtest.h>

#include <vector>

namespace lrp {
namespace {

// A sockperf header: sequence number, flags, length, in network order.
std::vector<uint8_t> message(uint16_t flags, size_t size = 14) {
  std::vector<uint8_t> m(size, 0);
  m[7] = 42;
  m[8] = static_cast<uint8_t>(flags >> 8);
  m[9] = static_cast<uint8_t>(flags & 0xff);
  m[13] = static_cast<uint8_t>(size);
  return m;
}

TEST(SockperfReply, PongRequestIsAnsweredWithTheClientFlagCleared) {
  auto m = message(0x0003);  // client | pong request
  EXPECT_EQ(make_reply(ReplyRule::Sockperf, m), ReplyAction::Send);
  EXPECT_EQ(m, message(0x0002));
}

TEST(SockperfReply, WarmupPongKeepsItsOtherFlags) {
  auto m = message(0x0007);  // client | pong | warm-up
  EXPECT_EQ(make_reply(ReplyRule::Sockperf, m), ReplyAction::Send);
  EXPECT_EQ(m, message(0x0006));
}

TEST(SockperfReply, ClientMessageWithoutPongRequestGetsNoReply) {
  auto m = message(0x0001);
  EXPECT_EQ(make_reply(ReplyRule::Sockperf, m), ReplyAction::Consume);
}

TEST(SockperfReply, OtherTrafficIsEchoedUnchanged) {
  std::vector<uint8_t> flood(18, 'f');  // lrp-flood's payload has no CLIENT flag
  const auto copy = flood;
  EXPECT_EQ(make_reply(ReplyRule::Sockperf, flood), ReplyAction::Send);
  EXPECT_EQ(flood, copy);
  std::vector<uint8_t> short_message = {1, 2, 3};
  EXPECT_EQ(make_reply(ReplyRule::Sockperf, short_message), ReplyAction::Send);
  EXPECT_EQ(short_message, (std::vector<uint8_t>{1, 2, 3}));
}

TEST(SockperfReply, EchoRuleNeverChangesAnything) {
  auto m = message(0x0003);
  EXPECT_EQ(make_reply(ReplyRule::Echo, m), ReplyAction::Send);
  EXPECT_EQ(m, message(0x0003));
}

}  // namespace
}  // namespace lrp
