#include "apps/sockperf_reply.h"

namespace lrp {

namespace {
constexpr size_t kHeaderSize = 14;
constexpr size_t kFlagsLowByte = 9;  // flags are big-endian at offset 8
constexpr uint8_t kClient = 1;
constexpr uint8_t kPong = 2;
}  // namespace

ReplyAction make_reply(ReplyRule rule, std::span<uint8_t> message) {
  if (rule == ReplyRule::Echo || message.size() < kHeaderSize) return ReplyAction::Send;
  uint8_t& flags = message[kFlagsLowByte];
  if ((flags & kClient) == 0) return ReplyAction::Send;
  if ((flags & kPong) == 0) return ReplyAction::Consume;
  flags = static_cast<uint8_t>(flags & ~kClient);
  return ReplyAction::Send;
}

}  // namespace lrp
