// One control message over lrpd's SOCK_SEQPACKET socket: header, body and
// file descriptors (SCM_RIGHTS), sent and received whole.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "lrp/result.h"
#include "service/protocol.h"
#include "service/wire/unique_fd.h"

namespace lrp::service {

struct Message {
  MsgType type = MsgType::Ok;
  uint32_t seq = 0;
  size_t body_size = 0;
  std::array<uint8_t, kMaxMessage> body{};
  std::vector<UniqueFd> fds;  // received descriptors, closed unless taken

  // The body as T; false unless it is exactly a T.
  template <class T>
  bool read(T* out) const {
    if (body_size != sizeof(T)) return false;
    std::memcpy(static_cast<void*>(out), body.data(), sizeof(T));
    return true;
  }
};

// Sends one message; EAGAIN on a full non-blocking socket, EPIPE when the
// peer is gone (never SIGPIPE).
Status send_message(int sock, MsgType type, uint32_t seq, const void* body, size_t size,
                    std::span<const int> fds = {});
template <class T>
Status send_message(int sock, MsgType type, uint32_t seq, const T& body,
                    std::span<const int> fds = {}) {
  return send_message(sock, type, seq, &body, sizeof(T), fds);
}
Status send_error(int sock, uint32_t seq, MsgType request, const Error& error);

// Receives one message. ECONNRESET when the peer hung up (EOF), EAGAIN on
// an empty non-blocking socket, EPROTO for a malformed message or a
// version this side does not speak, EMSGSIZE for an oversized one.
Result<Message> receive_message(int sock);

// The error a peer reported in an ErrorReply.
Error error_from(const Message& reply, const std::string& what);

// Fixed-size NUL-padded name fields.
void put_name(char* dst, size_t size, const std::string& src);
std::string get_name(const char* src, size_t size);

}  // namespace lrp::service
