// The echo server on ordinary kernel UDP sockets (recvmmsg/sendmmsg): the
// baseline that runs the same application work as lrp-echo, with the same
// structure: one thread per application (--app-per-port: one per port), the
// same reply rules, and the same relay mode (--forward).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "apps/options.h"
#include "apps/sockperf_reply.h"
#include "apps/spin.h"
#include "apps/stop_signal.h"

namespace {

constexpr unsigned kBatch = 64;
constexpr size_t kBufSize = 2048;

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

// The destination of a relay, as a dual-stack socket address.
sockaddr_in6 relay_address(const lrp::Endpoint& to) {
  sockaddr_storage ss{};
  to.to_sockaddr(&ss);
  sockaddr_in6 out{};
  out.sin6_family = AF_INET6;
  out.sin6_port = htons(to.port);
  if (ss.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&ss);
    out.sin6_addr.s6_addr[10] = 0xff;  // IPv4-mapped
    out.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&out.sin6_addr.s6_addr[12], &v4->sin_addr, 4);
  } else {
    out = *reinterpret_cast<const sockaddr_in6*>(&ss);
  }
  return out;
}

struct Worker {
  std::vector<int> fds;  // relay: fds[0] receives, fds[1] sends
  int64_t work_ns = 0;
  bool reads = true;  // false: bound, never read
  std::atomic<uint64_t> received{0};
};

class Batch {
 public:
  Batch() : bufs_(kBatch * kBufSize) {}
  mmsghdr* arm() {
    for (unsigned i = 0; i < kBatch; ++i) {
      iov_[i] = {&bufs_[i * kBufSize], kBufSize};
      msgs_[i] = {};
      msgs_[i].msg_hdr.msg_name = &addrs_[i];
      msgs_[i].msg_hdr.msg_namelen = sizeof(addrs_[i]);
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
    return msgs_;
  }
  // Applies the reply rule to message i; false: it gets no reply.
  bool reply(unsigned i, lrp::ReplyRule rule) {
    iov_[i].iov_len = msgs_[i].msg_len;
    auto* data = static_cast<uint8_t*>(iov_[i].iov_base);
    return lrp::make_reply(rule, std::span<uint8_t>(data, msgs_[i].msg_len)) ==
           lrp::ReplyAction::Send;
  }
  void redirect(unsigned i, sockaddr_in6* to) { msgs_[i].msg_hdr.msg_name = to; }
  // Moves message i to position k (to pack the replies together).
  void move(unsigned i, unsigned k) {
    if (i != k) msgs_[k] = msgs_[i];
  }
  mmsghdr* msgs() { return msgs_; }

 private:
  std::vector<char> bufs_;
  sockaddr_in6 addrs_[kBatch];
  iovec iov_[kBatch];
  mmsghdr msgs_[kBatch];
};

void serve(Worker& w, const lrp::EchoOptions& o, const std::atomic<bool>& finished) {
  (void)lrp::pin_to_cpu(o.cpu);
  const bool relay = !o.forward.empty();
  sockaddr_in6 relay_to{};
  if (relay) relay_to = relay_address(lrp::parse_endpoint(o.forward).value());
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (size_t i = 0; i < (relay ? 1 : w.fds.size()); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = w.fds[i];
    epoll_ctl(ep, EPOLL_CTL_ADD, w.fds[i], &ev);
  }
  Batch batch;
  while (!lrp::stop_requested() && !finished.load(std::memory_order_relaxed)) {
    epoll_event events[16];
    int n = epoll_wait(ep, events, 16, 100);
    for (int e = 0; e < n; ++e) {
      const int fd = events[e].data.fd;
      int got = recvmmsg(fd, batch.arm(), kBatch, MSG_DONTWAIT, nullptr);
      if (got <= 0) continue;
      w.received.fetch_add(static_cast<uint64_t>(got), std::memory_order_relaxed);
      if (o.sink) continue;
      unsigned replies = 0;
      for (unsigned i = 0; i < static_cast<unsigned>(got); ++i) {
        lrp::spin_for_ns(w.work_ns);
        if (!batch.reply(i, o.reply)) continue;
        if (relay) batch.redirect(i, &relay_to);
        batch.move(i, replies++);
      }
      const int out = relay ? w.fds[1] : fd;
      unsigned sent = 0;
      while (sent < replies) {
        int k = sendmmsg(out, batch.msgs() + sent, replies - sent, MSG_DONTWAIT);
        if (k <= 0) break;  // a full socket buffer drops the rest, as UDP does
        sent += static_cast<unsigned>(k);
      }
    }
  }
  close(ep);
}

}  // namespace

int main(int argc, char** argv) {
  lrp::EchoOptions o;
  if (auto exit = lrp::parse_echo_options(argc, argv, /*lrp=*/false, &o)) return *exit;
  if (auto st = lrp::pin_to_cpu(o.cpu); !st.ok()) {
    std::fprintf(stderr, "kernel-echo: %s\n", st.error().message().c_str());
    return 1;
  }
  lrp::install_stop_handlers();
  std::vector<std::unique_ptr<Worker>> workers;
  for (uint16_t port : o.ports) {
    int fd = open_port(port);
    if (fd < 0) {
      std::perror(("kernel-echo: bind udp port " + std::to_string(port)).c_str());
      return 1;
    }
    if (workers.empty() || o.app_per_port) {
      workers.push_back(std::make_unique<Worker>());
      workers.back()->work_ns = lrp::work_for_port(o, port);
      workers.back()->reads = !lrp::is_unread(o, port);
    }
    workers.back()->fds.push_back(fd);
  }
  std::atomic<bool> finished{false};
  std::vector<std::thread> threads;
  for (auto& w : workers)
    if (w->reads) threads.emplace_back([&, wp = w.get()] { serve(*wp, o, finished); });
  auto report = [&] {
    uint64_t sum = 0;
    for (const auto& w : workers) sum += w->received.load(std::memory_order_relaxed);
    std::printf("kernel-echo: received=%llu\n", static_cast<unsigned long long>(sum));
    std::fflush(stdout);
  };
  lrp::serve_until_stopped(o.duration_s, report);
  finished = true;
  for (auto& t : threads) t.join();
  report();
  for (const auto& w : workers)
    for (int fd : w->fds) close(fd);
  return 0;
}
