#include "sockets/preload/libc_calls.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lrp::preload {

namespace {

template <class F>
void resolve(F& slot, const char* name) {
  void* p = dlsym(RTLD_NEXT, name);
  if (p == nullptr) {
    char msg[160];
    const int n = std::snprintf(msg, sizeof(msg), "lrp-preload: the C library has no %s\n", name);
    (void)!::write(2, msg, static_cast<size_t>(n));
    std::abort();
  }
  slot = reinterpret_cast<F>(p);
}

LibcCalls load() {
  LibcCalls c{};
  resolve(c.socket, "socket");
  resolve(c.bind, "bind");
  resolve(c.connect, "connect");
  resolve(c.getsockname, "getsockname");
  resolve(c.getpeername, "getpeername");
  resolve(c.setsockopt, "setsockopt");
  resolve(c.getsockopt, "getsockopt");
  resolve(c.shutdown, "shutdown");
  resolve(c.recv, "recv");
  resolve(c.recvfrom, "recvfrom");
  resolve(c.recvmsg, "recvmsg");
  resolve(c.recvmmsg, "recvmmsg");
  resolve(c.send, "send");
  resolve(c.sendto, "sendto");
  resolve(c.sendmsg, "sendmsg");
  resolve(c.sendmmsg, "sendmmsg");
  resolve(c.read, "read");
  resolve(c.write, "write");
  resolve(c.readv, "readv");
  resolve(c.writev, "writev");
  resolve(c.poll, "poll");
  resolve(c.ppoll, "ppoll");
  resolve(c.select, "select");
  resolve(c.pselect, "pselect");
  resolve(c.epoll_create, "epoll_create");
  resolve(c.epoll_create1, "epoll_create1");
  resolve(c.epoll_ctl, "epoll_ctl");
  resolve(c.epoll_wait, "epoll_wait");
  resolve(c.epoll_pwait, "epoll_pwait");
  resolve(c.fcntl, "fcntl");
  void* fcntl64 = dlsym(RTLD_NEXT, "fcntl64");
  c.fcntl64 = fcntl64 != nullptr ? reinterpret_cast<int (*)(int, int, ...)>(fcntl64) : c.fcntl;
  resolve(c.ioctl, "ioctl");
  resolve(c.close, "close");
  resolve(c.dup, "dup");
  resolve(c.dup2, "dup2");
  resolve(c.dup3, "dup3");
  resolve(c.fork, "fork");
  return c;
}

}  // namespace

const LibcCalls& libc() {
  static const LibcCalls calls = load();
  return calls;
}

}  // namespace lrp::preload
