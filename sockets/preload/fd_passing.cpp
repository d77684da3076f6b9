#include "sockets/preload/fd_passing.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>

#include "sockets/preload/fd_table.h"
#include "sockets/preload/internal_fds.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/runtime.h"
#include "sockets/preload/tracked_socket.h"

namespace lrp::preload {

namespace {

bool has_rights(const msghdr* msg) {
  if (msg->msg_control == nullptr || msg->msg_controllen < sizeof(cmsghdr)) return false;
  msghdr* m = const_cast<msghdr*>(msg);
  for (cmsghdr* c = CMSG_FIRSTHDR(m); c != nullptr; c = CMSG_NXTHDR(m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) return true;
  return false;
}

int int_option(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof(v);
  if (libc().getsockopt(fd, level, name, &v, &len) != 0) return -1;
  return v;
}

// The served socket of this process whose kernel socket is the file at fd.
std::shared_ptr<TrackedSocket> served_with_file(int fd) {
  struct stat received {};
  if (fstat(fd, &received) != 0) return nullptr;
  std::shared_ptr<TrackedSocket> found;
  FdTable::get().for_each([&](int, const std::shared_ptr<TrackedSocket>& s) {
    if (found != nullptr || !s->taken()) return;
    struct stat st {};
    if (fstat(s->kernel_fd(), &st) == 0 && st.st_dev == received.st_dev &&
        st.st_ino == received.st_ino)
      found = s;
  });
  return found;
}

void adopt(int fd, bool cloexec) {
  const int domain = int_option(fd, SOL_SOCKET, SO_DOMAIN);
  if ((domain != AF_INET && domain != AF_INET6) ||
      int_option(fd, SOL_SOCKET, SO_TYPE) != SOCK_DGRAM ||
      int_option(fd, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_UDP)
    return;
  if (auto s = served_with_file(fd)) {
    if (s->adopt_number(fd, cloexec)) FdTable::get().insert(fd, s);
    return;
  }
  auto s = std::make_shared<TrackedSocket>(domain, fd, /*made_here=*/false);
  const int fl = libc().fcntl(fd, F_GETFL);
  s->nonblocking = fl >= 0 && (fl & O_NONBLOCK) != 0;
  if (!FdTable::get().insert(fd, s)) return;
  s->consider_takeover(fd);
}

}  // namespace

bool translate_passed_fds(const msghdr* msg, msghdr* out, std::vector<char>* storage) {
  if (!has_rights(msg)) return false;
  storage->assign(static_cast<const char*>(msg->msg_control),
                  static_cast<const char*>(msg->msg_control) + msg->msg_controllen);
  *out = *msg;
  out->msg_control = storage->data();
  bool changed = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(out); c != nullptr; c = CMSG_NXTHDR(out, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (!FdTable::get().tracked(fd)) continue;
      auto s = FdTable::get().find(fd);
      if (s == nullptr || !(s->taken() || s->inherited())) continue;
      const int kernel = s->kernel_fd();
      std::memcpy(CMSG_DATA(c) + i * sizeof(int), &kernel, sizeof(int));
      changed = true;
    }
  }
  return changed;
}

void adopt_received_fds(msghdr* msg, int flags) {
  if (!has_rights(msg)) return;
  const bool cloexec = (flags & MSG_CMSG_CLOEXEC) != 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (fd >= 0 && !FdTable::get().tracked(fd)) adopt(fd, cloexec);
    }
  }
}

void note_received_fds(msghdr* msg) {
  if (!has_rights(msg)) return;
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fd = note_created(fd);
      std::memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof(int));
    }
  }
}

}  // namespace lrp::preload
