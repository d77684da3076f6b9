#include "service/wire/channel.h"

#include <sys/socket.h>

#include <algorithm>

namespace lrp::service {

Status send_message(int sock, MsgType type, uint32_t seq, const void* body, size_t size,
                    std::span<const int> fds) {
  if (size > kMaxMessage - sizeof(MsgHeader) || fds.size() > kMaxFdsPerMessage)
    return make_error(EMSGSIZE, "control message too large");
  MsgHeader h{kWireMagic, kWireVersion, static_cast<uint16_t>(type),
              static_cast<uint32_t>(sizeof(MsgHeader) + size), seq};
  iovec iov[2] = {{&h, sizeof(h)}, {const_cast<void*>(body), size}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = size > 0 ? 2 : 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)]{};
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    const ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return {};
    if (errno == EINTR) continue;
    return errno_error("send control message");
  }
}

Status send_error(int sock, uint32_t seq, MsgType request, const Error& error) {
  ErrorReply r{};
  r.error = error.code != 0 ? error.code : EINVAL;
  r.request_type = static_cast<uint16_t>(request);
  const std::string text = error.context;
  std::memcpy(r.message, text.data(), std::min(text.size(), sizeof(r.message) - 1));
  return send_message(sock, MsgType::Error, seq, r);
}

Result<Message> receive_message(int sock) {
  Message m;
  MsgHeader h{};
  uint8_t buffer[kMaxMessage];
  iovec iov{buffer, sizeof(buffer)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  // Room for more descriptors than allowed, so extra ones arrive (and are
  // closed) instead of being lost silently.
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("receive control message");
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      m.fds.emplace_back(fd);
    }
  }
  if (n == 0) return make_error(ECONNRESET, "the peer closed the control connection");
  if ((msg.msg_flags & MSG_TRUNC) != 0) return make_error(EMSGSIZE, "control message too large");
  if ((msg.msg_flags & MSG_CTRUNC) != 0 || m.fds.size() > kMaxFdsPerMessage)
    return make_error(EPROTO, "control message with too many descriptors");
  if (static_cast<size_t>(n) < sizeof(MsgHeader))
    return make_error(EPROTO, "control message shorter than its header");
  std::memcpy(&h, buffer, sizeof(h));
  if (h.magic != kWireMagic) return make_error(EPROTO, "not an lrpd control message");
  if (h.version != kWireVersion)
    return make_error(EPROTO, "control protocol version " + std::to_string(h.version) +
                                  ", this side speaks " + std::to_string(kWireVersion));
  if (h.size != static_cast<uint32_t>(n))
    return make_error(EPROTO, "control message size does not match its header");
  m.type = static_cast<MsgType>(h.type);
  m.seq = h.seq;
  m.body_size = static_cast<size_t>(n) - sizeof(MsgHeader);
  std::memcpy(m.body.data(), buffer + sizeof(MsgHeader), m.body_size);
  return m;
}

Error error_from(const Message& reply, const std::string& what) {
  ErrorReply r{};
  if (reply.type != MsgType::Error || !reply.read(&r))
    return make_error(EPROTO, what + ": unexpected reply from lrpd");
  r.message[sizeof(r.message) - 1] = 0;
  return make_error(r.error, what + ": " + std::string(r.message));
}

void put_name(char* dst, size_t size, const std::string& src) {
  std::memset(dst, 0, size);
  std::memcpy(dst, src.data(), std::min(src.size(), size));
}

std::string get_name(const char* src, size_t size) {
  return std::string(src, strnlen(src, size));
}

}  // namespace lrp::service
