// Datagram calls: recv, recvfrom, recvmsg, recvmmsg, send, sendto, sendmsg,
// sendmmsg, read, write, readv, writev, and the fortified variants.
#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>

#include <vector>

#include "sockets/preload/datagram_io.h"
#include "sockets/preload/fd_passing.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/socket_lookup.h"

using namespace lrp::preload;

namespace {

msghdr one_buffer(void* buf, size_t len, iovec* iov, sockaddr* name, socklen_t* name_len) {
  *iov = iovec{buf, len};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 1;
  msg.msg_name = name;
  msg.msg_namelen = (name != nullptr && name_len != nullptr) ? *name_len : 0;
  return msg;
}

ssize_t receive_into(TrackedSocket& s, void* buf, size_t len, int flags, sockaddr* from,
                     socklen_t* from_len) {
  iovec iov;
  msghdr msg = one_buffer(buf, len, &iov, from, from_len);
  const ssize_t r = receive_message(s, &msg, flags);
  if (r >= 0 && from != nullptr && from_len != nullptr) *from_len = msg.msg_namelen;
  return r;
}

ssize_t send_from(TrackedSocket& s, const void* buf, size_t len, int flags, const sockaddr* to,
                  socklen_t to_len) {
  iovec iov;
  msghdr msg = one_buffer(const_cast<void*>(buf), len, &iov, const_cast<sockaddr*>(to), nullptr);
  msg.msg_namelen = to != nullptr ? to_len : 0;
  return send_message(s, &msg, flags);
}

}  // namespace

extern "C" {

ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* from, socklen_t* from_len) {
  auto s = served(fd);
  if (s == nullptr) return libc().recvfrom(fd, buf, len, flags, from, from_len);
  if (s->inherited()) return refuse_inherited(fd);
  return receive_into(*s, buf, len, flags, from, from_len);
}

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  auto s = served(fd);
  if (s == nullptr) return libc().recv(fd, buf, len, flags);
  if (s->inherited()) return refuse_inherited(fd);
  return receive_into(*s, buf, len, flags, nullptr, nullptr);
}

ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  auto s = served(fd);
  if (s == nullptr) {
    const ssize_t r = libc().recvmsg(fd, msg, flags);
    if (r >= 0 && msg != nullptr && msg->msg_controllen > 0) {
      const int saved = errno;
      if (InsideLrp::active())
        note_received_fds(msg);
      else
        adopt_received_fds(msg, flags);
      errno = saved;
    }
    return r;
  }
  if (s->inherited()) return refuse_inherited(fd);
  return receive_message(*s, msg, flags);
}

int recvmmsg(int fd, mmsghdr* msgs, unsigned int n, int flags, timespec* timeout) {
  auto s = served(fd);
  if (s == nullptr) return libc().recvmmsg(fd, msgs, n, flags, timeout);
  if (s->inherited()) return refuse_inherited(fd);
  return receive_messages(*s, msgs, n, flags, timeout);
}

ssize_t read(int fd, void* buf, size_t len) {
  auto s = served(fd);
  if (s == nullptr) return libc().read(fd, buf, len);
  if (s->inherited()) return refuse_inherited(fd);
  return receive_into(*s, buf, len, 0, nullptr, nullptr);
}

ssize_t readv(int fd, const iovec* iov, int count) {
  auto s = served(fd);
  if (s == nullptr) return libc().readv(fd, iov, count);
  if (s->inherited()) return refuse_inherited(fd);
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(count);
  return receive_message(*s, &msg, 0);
}

ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* to,
               socklen_t to_len) {
  auto s = served(fd);
  if (s == nullptr) return libc().sendto(fd, buf, len, flags, to, to_len);
  if (s->inherited()) return refuse_inherited(fd);
  return send_from(*s, buf, len, flags, to, to_len);
}

ssize_t send(int fd, const void* buf, size_t len, int flags) {
  auto s = served(fd);
  if (s == nullptr) return libc().send(fd, buf, len, flags);
  if (s->inherited()) return refuse_inherited(fd);
  return send_from(*s, buf, len, flags, nullptr, 0);
}

ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  auto s = served(fd);
  if (s == nullptr) {
    if (msg != nullptr && msg->msg_controllen > 0 && !InsideLrp::active()) {
      msghdr translated;
      std::vector<char> control;
      if (translate_passed_fds(msg, &translated, &control))
        return libc().sendmsg(fd, &translated, flags);
    }
    return libc().sendmsg(fd, msg, flags);
  }
  if (s->inherited()) return refuse_inherited(fd);
  return send_message(*s, msg, flags);
}

int sendmmsg(int fd, mmsghdr* msgs, unsigned int n, int flags) {
  auto s = served(fd);
  if (s == nullptr) return libc().sendmmsg(fd, msgs, n, flags);
  if (s->inherited()) return refuse_inherited(fd);
  return send_messages(*s, msgs, n, flags);
}

ssize_t write(int fd, const void* buf, size_t len) {
  auto s = served(fd);
  if (s == nullptr) return libc().write(fd, buf, len);
  if (s->inherited()) return refuse_inherited(fd);
  return send_from(*s, buf, len, 0, nullptr, 0);
}

ssize_t writev(int fd, const iovec* iov, int count) {
  auto s = served(fd);
  if (s == nullptr) return libc().writev(fd, iov, count);
  if (s->inherited()) return refuse_inherited(fd);
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<size_t>(count);
  return send_message(*s, &msg, 0);
}

// _FORTIFY_SOURCE builds call these when the buffer size is known.
ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buf_len, int flags) {
  if (len > buf_len) abort();
  return recv(fd, buf, len, flags);
}

ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buf_len, int flags, sockaddr* from,
                       socklen_t* from_len) {
  if (len > buf_len) abort();
  return recvfrom(fd, buf, len, flags, from, from_len);
}

ssize_t __read_chk(int fd, void* buf, size_t len, size_t buf_len) {
  if (len > buf_len) abort();
  return read(fd, buf, len);
}

}  // extern "C"
