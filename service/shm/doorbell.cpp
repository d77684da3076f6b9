#include "service/shm/doorbell.h"

#include <sys/socket.h>

namespace lrp::service {

Result<DoorbellPair> make_doorbell() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
    return errno_error("create an application doorbell");
  DoorbellPair pair{UniqueFd(sv[0]), UniqueFd(sv[1])};
  // A few bytes of buffer are plenty: one pending byte already wakes.
  const int small = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
  return pair;
}

void ring_doorbell(int fd) {
  const char one = 1;
  (void)!send(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

DoorbellState drain_doorbell(int fd) {
  char buf[256];
  DoorbellState state = DoorbellState::Quiet;
  for (int i = 0; i < 8; ++i) {
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) return DoorbellState::Closed;
    if (n < 0) break;
    state = DoorbellState::Rung;
    if (static_cast<size_t>(n) < sizeof(buf)) break;
  }
  return state;
}

}  // namespace lrp::service
