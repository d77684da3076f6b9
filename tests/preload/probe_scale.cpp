// preload-probe modes for what a server hits beyond the conformance scenarios:
//   many SERVER_NS CLIENT_NS IFACE N PORT
//       N UDP sockets on ports PORT..PORT+N-1 of the server address, as a
//       resolver opening a socket per query would have: every bind must
//       succeed, and each socket receives a datagram from the peer and
//       answers it, served by lrp or not.
//   exec-server SERVER_NS CLIENT_NS IFACE PORT
//       a server bound on PORT that execs a helper (exec-helper PORT+1)
//       which binds its own socket; the peer talks to both.
//   unprivileged ... PORT     a server that drops root before it binds
//   exec-inherit ... PORT     a server that hands its bound socket to a
//                             program it execs (inetd style)
//   iouring-inline ... PORT   a ring made without the C library
// Each prints "R KEY: VALUE" lines and "S KEY: served|kernel".
#include <errno.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/preload/conformance_util.h"

namespace probe::conf {

namespace {

// Waits for one datagram on s and sends it back; true when done in time.
bool echo_one(int s, int timeout_ms) {
  if (!readable(s, timeout_ms)) return false;
  char buf[64];
  sockaddr_storage from{};
  socklen_t len = sizeof(from);
  const long n =
      recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
  if (n < 0) return false;
  return sendto(s, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len) == n;
}

}  // namespace

int run_many(int n, uint16_t base) {
  // A program that wants n sockets makes room for them, as it would without lrp.
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = std::min<rlim_t>(r.rlim_max, static_cast<rlim_t>(n) + 64);
  setrlimit(RLIMIT_NOFILE, &r);
  std::vector<int> fds;
  int bound = 0, served_count = 0;
  std::string first_error;
  for (int i = 0; i < n; ++i) {
    const int s = udp(AF_INET);
    if (s >= 0 && bind_to(s, kServer4, static_cast<uint16_t>(base + i)) == 0) {
      ++bound;
      served_count += is_socket(s) ? 0 : 1;
    } else if (first_error.empty()) {
      first_error = " (first failure at " + std::to_string(i) + ": " + rv(-1) + ")";
    }
    fds.push_back(s);
  }
  result("many/bound", std::to_string(bound) + " of " + std::to_string(n) + first_error);
  // The limit reads back as the program set it, whatever room lrp took.
  rlimit now{};
  getrlimit(RLIMIT_NOFILE, &now);
  result("many/limit", now.rlim_cur == r.rlim_cur ? "as set" : std::to_string(now.rlim_cur));
  std::printf("# served %d, on the kernel %d\n", served_count, bound - served_count);
  std::printf("S many: %s\n", served_count > 0 ? "served" : "kernel");
  Peer peer(AF_INET, static_cast<uint16_t>(base - 1));
  // Room for every reply at once (root may force it past rmem_max).
  set_int(peer.fd(), SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20);
  int sent = 0;
  for (int i = 0; i < n; ++i)
    sent += peer.send(kServer4, static_cast<uint16_t>(base + i), std::to_string(i)) > 0 ? 1 : 0;
  int echoed = 0;
  for (int s : fds) echoed += s >= 0 && echo_one(s, 2000) ? 1 : 0;
  const auto replies = peer.drain(500, 10000);
  std::vector<bool> seen(static_cast<size_t>(n), false);
  int distinct = 0;
  for (const auto& g : replies) {
    const int i = std::atoi(g.payload.c_str());
    if (i >= 0 && i < n && !seen[static_cast<size_t>(i)]) {
      seen[static_cast<size_t>(i)] = true;
      ++distinct;
    }
  }
  result("many/sent", std::to_string(sent));
  result("many/echoed", std::to_string(echoed));
  result("many/replies", std::to_string(distinct));
  for (int s : fds)
    if (s >= 0) close(s);
  return bound == n && distinct == n ? 0 : 1;
}

int run_exec_server(uint16_t port) {
  const int s = udp(AF_INET);
  result("exec/server-bind", rv(bind_to(s, kServer4, port)));
  served("exec-server", s);
  int ready[2];
  if (pipe(ready) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    close(ready[0]);
    dup2(ready[1], 3);  // the helper says on fd 3 when it is bound
    const std::string p = std::to_string(port + 1);
    execl("/proc/self/exe", "preload-probe", "exec-helper", p.c_str(), nullptr);
    _exit(127);
  }
  close(ready[1]);
  char said[64] = {};
  pollfd pf{ready[0], POLLIN, 0};
  poll(&pf, 1, 10000);
  const long got = read(ready[0], said, sizeof(said) - 1);
  close(ready[0]);
  result("exec/helper-bind", got > 0 ? std::string(said, static_cast<size_t>(got)) : "no word");
  Peer peer(AF_INET, port + 500);
  peer.send(kServer4, port, "to-server");
  peer.send(kServer4, port + 1, "to-helper");
  const bool server_echoed = echo_one(s, 3000);
  int status = 0;
  waitpid(child, &status, 0);
  result("exec/server-echoed", server_echoed ? "yes" : "no");
  result("exec/helper-exit", WIFEXITED(status) ? std::to_string(WEXITSTATUS(status)) : "killed");
  std::string replies;
  for (const auto& g : peer.drain(500, 5000)) replies += (replies.empty() ? "" : ",") + g.payload;
  result("exec/replies", replies);
  close(s);
  return 0;
}

// A server that drops its privileges before it binds, as packaged daemons do.
int run_unprivileged(uint16_t port) {
  Peer peer(AF_INET, port + 500);  // made while the namespaces may still be entered
  result("unprivileged/drop",
         join({rv(setresgid(65534, 65534, 65534)), rv(setresuid(65534, 65534, 65534))}));
  const int s = udp(AF_INET);
  result("unprivileged/bind", rv(bind_to(s, kServer4, port)));
  served("unprivileged", s);
  peer.send(kServer4, port, "low");
  result("unprivileged/echoed", echo_one(s, 3000) ? "yes" : "no");
  result("unprivileged/reply", Peer::summary(peer.drain(), false));
  close(s);
  return 0;
}

// inetd style: the server binds, forks a child that execs a program with the
// socket as fd 3, and closes its own copy; the program serves on fd 3.
int run_exec_inherit(uint16_t port) {
  const int s = udp(AF_INET);
  result("exec-inherit/bind", rv(bind_to(s, kServer4, port)));
  served("exec-inherit", s);
  const pid_t child = fork();
  if (child == 0) {
    dup2(s, 3);
    execl("/proc/self/exe", "preload-probe", "exec-inherited", nullptr);
    _exit(127);
  }
  close(s);
  sleep_ms(300);
  Peer peer(AF_INET, port + 500);
  peer.send(kServer4, port, "inherited");
  int status = 0;
  waitpid(child, &status, 0);
  result("exec-inherit/program-exit",
         WIFEXITED(status) ? std::to_string(WEXITSTATUS(status)) : "killed");
  result("exec-inherit/reply", Peer::summary(peer.drain(), false));
  return 0;
}

// The program exec'd with a bound socket as fd 3.
int run_exec_inherited() {
  if (!is_socket(3)) return 3;
  return echo_one(3, 5000) ? 0 : 4;
}

// A ring made with an inline system call (as liburing's own builds do), out
// of sight of the C library: the next takeover finds its mapping, and the
// process's sockets stay on (go back to) the kernel.
int run_iouring_inline(uint16_t port) {
  const int before = udp(AF_INET);
  bind_to(before, kServer4, port);
  served("iouring-inline/before", before);
  io_uring_params params{};
  long ring;
  asm volatile("syscall"
               : "=a"(ring)
               : "a"(static_cast<long>(SYS_io_uring_setup)), "D"(4L), "S"(&params)
               : "rcx", "r11", "memory");
  void* sq = ring >= 0 ? mmap(nullptr, params.sq_off.array + params.sq_entries * sizeof(uint32_t),
                              PROT_READ | PROT_WRITE, MAP_SHARED, static_cast<int>(ring),
                              IORING_OFF_SQ_RING)
                       : MAP_FAILED;
  result("iouring-inline/ring", ring >= 0 && sq != MAP_FAILED ? "mapped" : "no ring");
  const int after = udp(AF_INET);
  bind_to(after, kServer4, port + 1);
  served("iouring-inline/after", after);
  served("iouring-inline/before-now", before);
  Peer peer(AF_INET, port + 500);
  for (int s : {before, after}) {
    peer.send(kServer4, static_cast<uint16_t>(s == before ? port : port + 1), "ring");
    result(s == before ? "iouring-inline/before-works" : "iouring-inline/after-works",
           echo_one(s, 3000) ? "yes" : "no");
  }
  close(before);
  close(after);
  return 0;
}

// The exec'd helper: its own socket, one echo.
int run_exec_helper(uint16_t port) {
  const int s = udp(AF_INET);
  const int r = bind_to(s, kServer4, port);
  const std::string said = rv(r) + (r == 0 ? (is_socket(s) ? " kernel" : " served") : "");
  (void)!write(3, said.data(), said.size());
  close(3);
  return r == 0 && echo_one(s, 5000) ? 0 : 1;
}

}  // namespace probe::conf
