// The echo server on ordinary kernel UDP sockets (recvmmsg/sendmmsg): the
// baseline that runs the same application work as lrp-echo.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "apps/options.h"
#include "apps/spin.h"
#include "apps/stop_signal.h"

namespace {

constexpr unsigned kBatch = 64;

int open_port(uint16_t port) {
  int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int off = 0;  // dual stack: IPv4 and IPv6 on one socket
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  sa.sin6_addr = in6addr_any;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = lrp::parse_echo_options(argc, argv, /*needs_iface=*/false);
  if (!parsed) {
    std::fprintf(stderr, "kernel-echo: %s\n%s", parsed.error().message().c_str(),
                 lrp::echo_usage(argv[0], false).c_str());
    return 2;
  }
  const lrp::EchoOptions& o = parsed.value();
  if (!o.metrics.empty()) {
    std::fprintf(stderr,
                 "kernel-echo: --metrics is not supported: the kernel path has no lrp "
                 "counters; use the kernel's own statistics\n");
    return 2;
  }
  if (auto st = lrp::pin_to_cpu(o.cpu); !st.ok()) {
    std::fprintf(stderr, "kernel-echo: %s\n", st.error().message().c_str());
    return 1;
  }
  lrp::install_stop_handlers();
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<int> fds;
  for (uint16_t port : o.ports) {
    int fd = open_port(port);
    if (fd < 0) {
      std::perror(("kernel-echo: bind udp port " + std::to_string(port)).c_str());
      return 1;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    fds.push_back(fd);
  }
  std::vector<char> bufs(kBatch * 2048);
  sockaddr_in6 addrs[kBatch];
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  const auto start = std::chrono::steady_clock::now();
  uint64_t echoed = 0;
  while (!lrp::stop_requested()) {
    if (o.duration_s > 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::duration<double>(o.duration_s))
      break;
    epoll_event events[16];
    int n = epoll_wait(ep, events, 16, 100);
    for (int e = 0; e < n; ++e) {
      const int fd = events[e].data.fd;
      for (unsigned i = 0; i < kBatch; ++i) {
        iov[i] = {&bufs[i * 2048], 2048};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(addrs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int got = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (got <= 0) continue;
      for (int i = 0; i < got; ++i) {
        lrp::spin_for_ns(o.work_ns);
        iov[i].iov_len = msgs[i].msg_len;
      }
      int sent = o.sink ? got : 0;
      while (sent < got) {
        int k = sendmmsg(fd, msgs + sent, static_cast<unsigned>(got - sent), MSG_DONTWAIT);
        if (k <= 0) break;  // a full socket buffer drops the rest, as UDP does
        sent += k;
      }
      echoed += static_cast<uint64_t>(got);
    }
  }
  std::printf("kernel-echo: received=%llu\n", static_cast<unsigned long long>(echoed));
  for (int fd : fds) close(fd);
  close(ep);
  return 0;
}
