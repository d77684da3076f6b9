// Replies the way a sockperf server does, so sockperf's client can measure an
// echo server. A sockperf message starts with a 14-byte header: sequence
// number (8 bytes), flags (2), length (4), in network order. The client sets
// the CLIENT flag on what it sends and PONG on the messages it wants answered;
// the server answers only those, with CLIENT cleared. Anything that is not a
// client message is echoed verbatim, so other load still gets replies.
#pragma once

#include <cstdint>
#include <span>

namespace lrp {

enum class ReplyRule { Echo, Sockperf };
enum class ReplyAction { Send, Consume };

// Decides what to send back for `message` and edits it in place when the
// reply differs from the request.
ReplyAction make_reply(ReplyRule rule, std::span<uint8_t> message);

}  // namespace lrp
