// The calls a program makes on sockets lrp does not serve (TCP, Unix, UDP on
// loopback), written as a transcript: the test runs it with and without the
// preload library and expects the same lines.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "tests/preload/probe_util.h"

namespace probe {

namespace {

std::string result(ssize_t r) {
  return r < 0 ? "-1 " + err(errno) : std::to_string(r);
}

void tcp_loopback(const char* addr) {
  const std::string p = std::string("tcp ") + addr + " ";
  const int family = std::strchr(addr, ':') ? AF_INET6 : AF_INET;
  const int listener = socket(family, SOCK_STREAM, 0);
  socklen_t len;
  sockaddr_storage ss = address(addr, 0, &len);
  note(p + "bind", result(bind(listener, reinterpret_cast<sockaddr*>(&ss), len)));
  note(p + "listen", result(listen(listener, 4)));
  socklen_t got = sizeof(ss);
  getsockname(listener, reinterpret_cast<sockaddr*>(&ss), &got);
  note(p + "getsockname", describe(ss, false) + (port_of(ss) != 0 ? " port set" : " no port"));
  const int client = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int r = connect(client, reinterpret_cast<sockaddr*>(&ss), got);
  note(p + "connect", r == 0 || errno == EINPROGRESS ? "started" : err(errno));
  pollfd pw{client, POLLOUT, 0};
  note(p + "poll connect", result(poll(&pw, 1, 2000)) + " revents " + std::to_string(pw.revents));
  const int server = accept(listener, nullptr, nullptr);
  note(p + "accept", server >= 0 ? "fd" : err(errno));
  note(p + "send", result(send(client, "tcp-hello", 9, 0)));
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(server, &rd);
  timeval tv{2, 0};
  note(p + "select", result(select(server + 1, &rd, nullptr, nullptr, &tv)));
  int avail = -1;
  ioctl(server, FIONREAD, &avail);
  note(p + "FIONREAD", std::to_string(avail));
  char buf[32] = {};
  note(p + "recv", result(recv(server, buf, sizeof(buf), 0)) + " " + buf);
  const int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = 7;
  epoll_ctl(ep, EPOLL_CTL_ADD, server, &ev);
  epoll_event out[2];
  const int n = epoll_wait(ep, out, 2, 1000);
  note(p + "epoll", result(n) + " events " + std::to_string(n > 0 ? out[0].events : 0));
  note(p + "F_GETFL nonblock", std::to_string((fcntl(client, F_GETFL) & O_NONBLOCK) != 0));
  note(p + "recv empty", result(recv(client, buf, sizeof(buf), MSG_DONTWAIT)));
  note(p + "shutdown", result(shutdown(client, SHUT_WR)));
  note(p + "recv eof", result(recv(server, buf, sizeof(buf), 0)));
  note(p + "is socket", std::to_string(is_socket_fd(server)));
  close(ep);
  close(server);
  close(client);
  close(listener);
}

void unix_sockets() {
  int pair[2];
  note("unix stream socketpair", result(socketpair(AF_UNIX, SOCK_STREAM, 0, pair)));
  note("unix stream write", result(write(pair[0], "unix", 4)));
  char buf[16] = {};
  note("unix stream read", result(read(pair[1], buf, sizeof(buf))) + " " + buf);
  close(pair[0]);
  close(pair[1]);
  note("unix dgram socketpair", result(socketpair(AF_UNIX, SOCK_DGRAM, 0, pair)));
  note("unix dgram send", result(send(pair[0], "dgram", 5, 0)));
  pollfd p{pair[1], POLLIN, 0};
  note("unix dgram poll", result(poll(&p, 1, 1000)));
  std::memset(buf, 0, sizeof(buf));
  note("unix dgram recv", result(recv(pair[1], buf, sizeof(buf), 0)) + " " + buf);
  close(pair[0]);
  close(pair[1]);
  const int a = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  const std::string name = "lrp-probe-" + std::to_string(getpid());
  std::memcpy(un.sun_path + 1, name.data(), name.size());
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  note("unix abstract bind", result(bind(a, reinterpret_cast<sockaddr*>(&un), len)));
  const int b = socket(AF_UNIX, SOCK_DGRAM, 0);
  note("unix abstract sendto",
       result(sendto(b, "abs", 3, 0, reinterpret_cast<sockaddr*>(&un), len)));
  std::memset(buf, 0, sizeof(buf));
  note("unix abstract recvfrom",
       result(recvfrom(a, buf, sizeof(buf), 0, nullptr, nullptr)) + " " + buf);
  close(a);
  close(b);
}

void udp_loopback(const char* addr) {
  const std::string p = std::string("udp ") + addr + " ";
  const int family = std::strchr(addr, ':') ? AF_INET6 : AF_INET;
  const int a = bound_udp(family, addr, 0);
  const int b = bound_udp(family, addr, 0);
  note(p + "bound", std::to_string(a >= 0 && b >= 0));
  note(p + "is socket", std::to_string(is_socket_fd(a)));
  sockaddr_storage sa{}, sb{};
  socklen_t la = sizeof(sa), lb = sizeof(sb);
  getsockname(a, reinterpret_cast<sockaddr*>(&sa), &la);
  getsockname(b, reinterpret_cast<sockaddr*>(&sb), &lb);
  note(p + "getsockname", describe(sa, false));
  const int one = 1;
  if (family == AF_INET)
    setsockopt(b, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
  else
    setsockopt(b, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
  note(p + "sendto", result(sendto(a, "loop", 4, 0, reinterpret_cast<sockaddr*>(&sb), lb)));
  pollfd pf{b, POLLIN | POLLOUT, 0};
  note(p + "poll", result(poll(&pf, 1, 1000)) + " revents " + std::to_string(pf.revents));
  int avail = -1;
  ioctl(b, FIONREAD, &avail);
  note(p + "FIONREAD", std::to_string(avail));
  char buf[64] = {};
  note(p + "peek", result(recv(b, buf, sizeof(buf), MSG_PEEK)) + " " + buf);
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
  std::memset(buf, 0, sizeof(buf));
  const ssize_t r = recvmsg(b, &msg, 0);
  std::string cm = "none";
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c))
    cm = std::to_string(c->cmsg_level) + "/" + std::to_string(c->cmsg_type);
  note(p + "recvmsg", result(r) + " " + buf + " from " + describe(from, false) + " cmsg " + cm +
                          (port_of(from) == port_of(sa) ? " right port" : " wrong port"));
  note(p + "recv nonblock", result(recv(b, buf, sizeof(buf), MSG_DONTWAIT)));
  timeval tv{0, 50'000};
  setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  note(p + "recv timeout", result(recv(b, buf, sizeof(buf), 0)));
  mmsghdr out[4] = {};
  iovec oiov[4];
  for (int i = 0; i < 4; ++i) {
    oiov[i] = iovec{const_cast<char*>("mm"), 2};
    out[i].msg_hdr.msg_iov = &oiov[i];
    out[i].msg_hdr.msg_iovlen = 1;
    out[i].msg_hdr.msg_name = &sb;
    out[i].msg_hdr.msg_namelen = lb;
  }
  note(p + "sendmmsg", result(sendmmsg(a, out, 4, 0)));
  usleep(20'000);
  mmsghdr in[8] = {};
  char bufs[8][16];
  iovec iiov[8];
  for (int i = 0; i < 8; ++i) {
    iiov[i] = iovec{bufs[i], sizeof(bufs[i])};
    in[i].msg_hdr.msg_iov = &iiov[i];
    in[i].msg_hdr.msg_iovlen = 1;
  }
  note(p + "recvmmsg", result(recvmmsg(b, in, 8, MSG_DONTWAIT, nullptr)));
  const int d = dup(b);
  note(p + "connect", result(connect(a, reinterpret_cast<sockaddr*>(&sb), lb)));
  note(p + "send", result(send(a, "dup", 3, 0)));
  std::memset(buf, 0, sizeof(buf));
  note(p + "read dup", result(read(d, buf, sizeof(buf))) + " " + buf);
  sockaddr_storage peer{};
  socklen_t lp = sizeof(peer);
  note(p + "getpeername", result(getpeername(a, reinterpret_cast<sockaddr*>(&peer), &lp)) + " " +
                              describe(peer, false));
  note(p + "fcntl nonblock", result(fcntl(d, F_SETFL, O_NONBLOCK)) + " " +
                                 std::to_string((fcntl(b, F_GETFL) & O_NONBLOCK) != 0));
  close(d);
  close(a);
  close(b);
}

}  // namespace

int run_passthrough() {
  tcp_loopback("127.0.0.1");
  tcp_loopback("::1");
  unix_sockets();
  udp_loopback("127.0.0.1");
  udp_loopback("::1");
  return 0;
}

}  // namespace probe
