// The calls a UDP server makes, on sockets lrp serves, against a kernel echo
// server in the peer namespace: blocking rules, readiness mixed with kernel
// fds, ancillary data, batches, dup, connect, IPv6, SO_REUSEPORT spreading,
// an unsupported option and the fork policy. One "ok"/"FAIL" line each.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>

#include "tests/preload/probe_util.h"

namespace probe {

namespace {

constexpr const char* kLocal4 = "198.18.0.1";
constexpr const char* kPeer4 = "198.18.0.2";
constexpr const char* kLocal6 = "2001:2::1";
constexpr const char* kPeer6 = "2001:2::2";
constexpr uint16_t kBase = 9700;  // this program's ports

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1'000'000;
}

std::string errno_text() {
  return err(errno);
}

// One datagram from the echo server, received with recvmsg; its
// destination from the pktinfo control message.
struct Received {
  std::string payload;
  std::string from;
  std::string destination;
};

Received receive_msg(int fd) {
  Received r;
  char buf[256];
  char control[256];
  iovec iov{buf, sizeof(buf)};
  sockaddr_storage from{};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof(from);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 2000) != 1) return r;
  const ssize_t n = recvmsg(fd, &msg, 0);
  if (n < 0) return r;
  r.payload.assign(buf, static_cast<size_t>(n));
  r.from = describe(from, true);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    char text[INET6_ADDRSTRLEN] = {};
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      inet_ntop(AF_INET, &info.ipi_addr, text, sizeof(text));
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      inet_ntop(AF_INET6, &info.ipi6_addr, text, sizeof(text));
    }
    r.destination = text;
  }
  return r;
}

void blocking_rules(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  check(fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0,
        "fcntl O_NONBLOCK");
  char buf[64];
  errno = 0;
  check(recv(fd, buf, sizeof(buf), 0) == -1 && errno == EAGAIN, "nonblocking recv is EAGAIN",
        errno_text());
  int off = 0;
  check(ioctl(fd, FIONBIO, &off) == 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) == 0,
        "ioctl FIONBIO clears O_NONBLOCK");
  errno = 0;
  check(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN,
        "MSG_DONTWAIT recv is EAGAIN", errno_text());
  timeval tv{0, 150'000};
  check(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0, "SO_RCVTIMEO set");
  const int64_t start = now_ms();
  errno = 0;
  const ssize_t r = recv(fd, buf, sizeof(buf), 0);
  const int64_t waited = now_ms() - start;
  check(r == -1 && errno == EAGAIN && waited >= 120 && waited < 2000,
        "SO_RCVTIMEO recv waits then EAGAIN",
        errno_text() + " after " + std::to_string(waited) + " ms");
  timeval none{0, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
}

void readiness(int fd, uint16_t echo) {
  int pipe_fds[2];
  (void)!pipe(pipe_fds);
  (void)!write(pipe_fds[1], "p", 1);
  pollfd p[2] = {{fd, POLLIN, 0}, {pipe_fds[0], POLLIN, 0}};
  check(poll(p, 2, 1000) == 1 && p[0].revents == 0 && p[1].revents == POLLIN,
        "poll: kernel pipe ready, idle lrp socket not");
  pollfd w{fd, POLLOUT, 0};
  check(poll(&w, 1, 1000) == 1 && (w.revents & POLLOUT) != 0, "poll: lrp socket writable");
  send_text(fd, kPeer4, echo, "hello");
  pollfd r{fd, POLLIN, 0};
  check(poll(&r, 1, 2000) == 1 && (r.revents & POLLIN) != 0, "poll: lrp socket readable");
  fd_set rd, wr;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_SET(fd, &rd);
  FD_SET(pipe_fds[0], &rd);
  FD_SET(fd, &wr);
  timeval tv{1, 0};
  const int n = select(std::max(fd, pipe_fds[0]) + 1, &rd, &wr, nullptr, &tv);
  check(n == 3 && FD_ISSET(fd, &rd) && FD_ISSET(pipe_fds[0], &rd) && FD_ISSET(fd, &wr),
        "select: lrp and kernel fds together", std::to_string(n));
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 1;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  ev.data.u64 = 2;
  epoll_ctl(ep, EPOLL_CTL_ADD, pipe_fds[0], &ev);
  epoll_event out[4];
  int k = epoll_wait(ep, out, 4, 1000);
  bool saw1 = false, saw2 = false;
  for (int i = 0; i < k; ++i) {
    saw1 = saw1 || (out[i].data.u64 == 1 && (out[i].events & EPOLLIN));
    saw2 = saw2 || out[i].data.u64 == 2;
  }
  check(k == 2 && saw1 && saw2, "epoll: lrp and kernel fds together", std::to_string(k));
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = 1;
  epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
  k = epoll_wait(ep, out, 4, 0);
  bool out1 = false;
  for (int i = 0; i < k; ++i) out1 = out1 || (out[i].data.u64 == 1 && (out[i].events & EPOLLOUT));
  check(out1, "epoll: EPOLLOUT on an lrp socket");
  int avail = -1;
  check(ioctl(fd, FIONREAD, &avail) == 0 && avail == 5, "FIONREAD", std::to_string(avail));
  char buf[64] = {};
  check(recv(fd, buf, sizeof(buf), MSG_PEEK) == 5 && std::string(buf) == "hello", "MSG_PEEK");
  std::memset(buf, 0, sizeof(buf));
  check(recv(fd, buf, sizeof(buf), 0) == 5 && std::string(buf) == "hello", "recv after peek");
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
  close(ep);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

void batches(int fd, uint16_t echo) {
  socklen_t len;
  sockaddr_storage to = address(kPeer4, echo, &len);
  mmsghdr out[8] = {};
  iovec oiov[8];
  for (int i = 0; i < 8; ++i) {
    oiov[i] = iovec{const_cast<char*>("batch"), 5};
    out[i].msg_hdr.msg_iov = &oiov[i];
    out[i].msg_hdr.msg_iovlen = 1;
    out[i].msg_hdr.msg_name = &to;
    out[i].msg_hdr.msg_namelen = len;
  }
  check(sendmmsg(fd, out, 8, 0) == 8, "sendmmsg 8", errno_text());
  int got = 0;
  const int64_t deadline = now_ms() + 3000;
  while (got < 8 && now_ms() < deadline) {
    mmsghdr in[8] = {};
    char bufs[8][16];
    iovec iiov[8];
    for (int i = 0; i < 8; ++i) {
      iiov[i] = iovec{bufs[i], sizeof(bufs[i])};
      in[i].msg_hdr.msg_iov = &iiov[i];
      in[i].msg_hdr.msg_iovlen = 1;
    }
    timespec ts{1, 0};
    const int n = recvmmsg(fd, in, static_cast<unsigned>(8 - got), MSG_WAITFORONE, &ts);
    if (n > 0) {
      for (int i = 0; i < n; ++i) got += in[i].msg_len == 5 ? 1 : 0;
    }
  }
  check(got == 8, "recvmmsg gets the 8 echoes", std::to_string(got));
}

void duplicates(int fd, uint16_t echo) {
  const int d = dup(fd);
  const int high = fcntl(fd, F_DUPFD_CLOEXEC, 200);
  close(fd);
  send_text(d, kPeer4, echo, "dup");
  check(receive_text(d, 2000) == "dup", "dup'ed fd works after the original is closed");
  check(dup2(d, 150) == 150, "dup2");
  send_text(150, kPeer4, echo, "dup2");
  check(receive_text(high, 2000) == "dup2", "F_DUPFD_CLOEXEC copy receives");
  close(d);
  close(150);
  close(high);
  const int again = bound_udp(AF_INET, kLocal4, kBase);
  check(again >= 0, "port free again after the last fd closed", errno_text());
  close(again);
}

void connected(uint16_t echo) {
  const int fd = bound_udp(AF_INET, kLocal4, kBase + 2);
  socklen_t len;
  sockaddr_storage to = address(kPeer4, echo, &len);
  check(connect(fd, reinterpret_cast<sockaddr*>(&to), len) == 0, "connect", errno_text());
  check(write(fd, "conn", 4) == 4, "write on connected socket", errno_text());
  char buf[16] = {};
  pollfd p{fd, POLLIN, 0};
  poll(&p, 1, 2000);
  check(read(fd, buf, sizeof(buf)) == 4 && std::string(buf) == "conn", "read on connected socket");
  sockaddr_storage peer{};
  socklen_t lp = sizeof(peer);
  check(getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &lp) == 0 &&
            describe(peer, true) == describe(to, true),
        "getpeername", describe(peer, true));
  close(fd);
  // An unbound socket that connects to a peer on the lrp interface is served too.
  const int c = socket(AF_INET, SOCK_DGRAM, 0);
  check(connect(c, reinterpret_cast<sockaddr*>(&to), len) == 0 && !is_socket_fd(c),
        "connect without bind is served by lrp");
  check(send(c, "implicit", 8, 0) == 8 && receive_text(c, 2000) == "implicit",
        "implicitly bound connected socket echoes");
  close(c);
}

void ipv6(uint16_t echo) {
  const int fd = bound_udp(AF_INET6, kLocal6, kBase + 3);
  check(fd >= 0 && !is_socket_fd(fd), "IPv6 socket on the lrp address is served by lrp");
  const int one = 1;
  setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
  send_text(fd, kPeer6, echo, "six");
  const Received r = receive_msg(fd);
  check(r.payload == "six" && r.from == std::string(kPeer6) + ":" + std::to_string(echo) &&
            r.destination == kLocal6,
        "IPv6 echo with IPV6_PKTINFO", r.payload + " " + r.from + " " + r.destination);
  close(fd);
  const int dual = bound_udp(AF_INET6, "::", kBase + 4);
  send_text(dual, std::string("::ffff:") + kPeer4, echo, "mapped");
  sockaddr_storage from{};
  check(receive_text(dual, 2000, &from) == "mapped" &&
            describe(from, false) == std::string("::ffff:") + kPeer4,
        "dual-stack socket: IPv4 peer as ::ffff:a.b.c.d", describe(from, false));
  send_text(dual, kPeer6, echo, "v6");
  check(receive_text(dual, 2000) == "v6", "dual-stack socket: IPv6 peer");
  close(dual);
}

void pktinfo(uint16_t echo) {
  const int fd = bound_udp(AF_INET, "0.0.0.0", kBase + 5);
  const int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
  check(fd >= 0 && !is_socket_fd(fd), "wildcard socket is served by lrp");
  send_text(fd, kPeer4, echo, "pkt");
  const Received r = receive_msg(fd);
  check(r.payload == "pkt" && r.from == std::string(kPeer4) + ":" + std::to_string(echo) &&
            r.destination == kLocal4,
        "IP_PKTINFO on a wildcard socket", r.payload + " " + r.from + " " + r.destination);
  close(fd);
}

void reuseport(uint16_t echo, int echo_ports) {
  const int a = bound_udp(AF_INET, kLocal4, kBase + 6, true);
  const int b = bound_udp(AF_INET, kLocal4, kBase + 6, true);
  check(a >= 0 && b >= 0, "two SO_REUSEPORT sockets on one port", errno_text());
  std::map<int, int> first_owner;
  bool consistent = true;
  int on_a = 0, on_b = 0;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < echo_ports; ++i) send_text(a, kPeer4, echo + i, std::to_string(i));
    int got = 0;
    const int64_t deadline = now_ms() + 3000;
    while (got < echo_ports && now_ms() < deadline) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (poll(p, 2, 500) <= 0) continue;
      for (int k = 0; k < 2; ++k) {
        if ((p[k].revents & POLLIN) == 0) continue;
        const std::string text = receive_text(p[k].fd, 0);
        if (text.empty()) continue;
        ++got;
        const int port = std::stoi(text);
        (k == 0 ? on_a : on_b)++;
        if (round == 0) first_owner[port] = k;
        if (round == 1 && first_owner[port] != k) consistent = false;
      }
    }
  }
  check(on_a + on_b == 2 * echo_ports, "every echo reaches the group", std::to_string(on_a + on_b));
  check(on_a > 0 && on_b > 0, "SO_REUSEPORT spreads flows over both sockets",
        std::to_string(on_a) + "/" + std::to_string(on_b));
  check(consistent, "one flow always meets the same socket");
  close(a);
  close(b);
}

void fork_policy(uint16_t echo) {
  const int fd = bound_udp(AF_INET, kLocal4, kBase + 7);
  const pid_t pid = fork();
  if (pid == 0) {
    char buf[8];
    errno = 0;
    const bool refused = recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EBADFD;
    // Kernel sockets keep working in the child.
    const int k1 = bound_udp(AF_INET, "127.0.0.1", 0);
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(k1, reinterpret_cast<sockaddr*>(&ss), &len);
    send_text(k1, "127.0.0.1", port_of(ss), "child");
    const bool kernel_ok = receive_text(k1, 1000) == "child";
    _exit(refused && kernel_ok ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "fork: the child gets EBADFD on an inherited lrp socket, its kernel sockets work");
  send_text(fd, kPeer4, echo, "parent");
  check(receive_text(fd, 2000) == "parent", "fork: the parent's lrp socket still works");
  close(fd);
}

// Before any socket is taken over, a child is a process like any other.
void fork_before_takeover(uint16_t echo) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = bound_udp(AF_INET, kLocal4, kBase + 9);
    const bool taken = fd >= 0 && !is_socket_fd(fd);
    send_text(fd, kPeer4, echo, "child");
    const bool echoed = receive_text(fd, 2000) == "child";
    _exit(taken && echoed ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "fork before any takeover: the child serves its own sockets with lrp");
}

void epoll_before_bind(uint16_t echo) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 42;
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  socklen_t len;
  sockaddr_storage ss = address(kLocal4, kBase + 8, &len);
  check(bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 && !is_socket_fd(fd),
        "socket in an epoll set before bind is served by lrp");
  send_text(fd, kPeer4, echo, "early");
  epoll_event out{};
  const int n = epoll_wait(ep, &out, 1, 2000);
  check(n == 1 && out.data.u64 == 42 && receive_text(fd, 0) == "early",
        "epoll set made before bind sees lrp datagrams", std::to_string(n));
  close(fd);
  close(ep);
}

}  // namespace

int run_semantics(uint16_t echo, int echo_ports) {
  fork_before_takeover(echo);
  const int fd = bound_udp(AF_INET, kLocal4, kBase);
  check(fd >= 0 && !is_socket_fd(fd), "socket bound to the lrp address is served by lrp");
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  check(describe(ss, true) == std::string(kLocal4) + ":" + std::to_string(kBase), "getsockname",
        describe(ss, true));
  int type = 0;
  socklen_t tl = sizeof(type);
  check(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_DGRAM,
        "getsockopt SO_TYPE");
  send_text(fd, kPeer4, echo, "first");
  sockaddr_storage from{};
  check(receive_text(fd, 2000, &from) == "first" &&
            describe(from, true) == std::string(kPeer4) + ":" + std::to_string(echo),
        "echo through lrp", describe(from, true));
  const int on = 1;
  check(setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof(on)) == 0,
        "unsupported option still reaches the kernel socket");
  blocking_rules(fd);
  readiness(fd, echo);
  batches(fd, echo);
  duplicates(fd, echo);
  connected(echo);
  ipv6(echo);
  pktinfo(echo);
  reuseport(echo, echo_ports);
  epoll_before_bind(echo);
  fork_policy(echo);
  // A loopback socket in the same process stays on the kernel.
  const int loop = bound_udp(AF_INET, "127.0.0.1", 0);
  check(is_socket_fd(loop), "loopback socket stays a kernel socket");
  close(loop);
  return 0;
}

}  // namespace probe
