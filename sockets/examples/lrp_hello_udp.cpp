// lrp-hello-udp: the native socket API on one page. A UDP server on IPv4 and
// IPv6 that answers every datagram with "hello, " and its payload. It waits
// in its own epoll loop on the sockets' readiness fds, receives in batches
// without copying (views into the receive frames, given back with done), and
// answers with one batch send per batch received. With --copy it uses the
// copying style instead: one datagram at a time into its own buffer, one send
// each, as a program ported from recvfrom/sendto would.
//
//   lrp-hello-udp --iface IF [--port P] [--threading rtc|dedicated] [--copy]
//                 [--metrics HOST:PORT] [--count N]
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sockets/api/lrp_sockets.h"

namespace {

using lrp::sockets::Datagram;
using lrp::sockets::OutDatagram;
using lrp::sockets::UdpSocket;

constexpr size_t kBatch = 32;
constexpr char kGreeting[] = "hello, ";
constexpr size_t kMaxReply = 1500;

volatile sig_atomic_t stop = 0;

struct Options {
  std::string iface;
  uint16_t port = 7777;
  std::string threading = "rtc";
  std::string metrics;
  long count = 0;  // answer this many, then exit; 0: until SIGINT or SIGTERM
  bool copy = false;
};

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --iface IF [--port P] [--threading rtc|dedicated] [--copy] "
               "[--metrics HOST:PORT] [--count N]\n",
               argv0);
  return 2;
}

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--copy") {
      o->copy = true;
      --i;
      continue;
    }
    if (i + 1 == argc) return false;
    const char* value = argv[i + 1];
    if (key == "--iface") {
      o->iface = value;
    } else if (key == "--port") {
      o->port = static_cast<uint16_t>(std::atoi(value));
    } else if (key == "--threading") {
      o->threading = value;
    } else if (key == "--metrics") {
      o->metrics = value;
    } else if (key == "--count") {
      o->count = std::atol(value);
    } else {
      return false;
    }
  }
  return !o->iface.empty() && o->port != 0;
}

int fail(const lrp::Error& e) {
  std::fprintf(stderr, "lrp-hello-udp: %s\n", e.message().c_str());
  return 1;
}

// Everything one socket's readiness asked for: receive a batch, answer it
// with one batch send, give the frames back.
size_t serve(UdpSocket& socket) {
  std::array<Datagram, kBatch> batch;
  auto received = socket.receive(batch, lrp::sockets::kNoWait);
  if (!received || received.value() == 0) return 0;
  const size_t n = received.value();

  static std::array<std::array<uint8_t, kMaxReply>, kBatch> replies;
  std::array<OutDatagram, kBatch> out;
  for (size_t i = 0; i < n; ++i) {
    const Datagram& d = batch[i];
    // The payload is a view into the receive frame, valid until done().
    const size_t len = std::min(d.view.payload.size(), kMaxReply - (sizeof(kGreeting) - 1));
    std::memcpy(replies[i].data(), kGreeting, sizeof(kGreeting) - 1);
    std::memcpy(replies[i].data() + sizeof(kGreeting) - 1, d.view.payload.data(), len);
    // Back to the sender, from the address it wrote to (the socket is bound
    // to the wildcard address).
    out[i] = OutDatagram{
        d.view.source, {replies[i].data(), sizeof(kGreeting) - 1 + len}, d.view.destination.addr};
  }
  // Queues as many as fit and kicks once. A refusal (EAGAIN) is back-pressure:
  // a real server could keep the rest and retry when it next runs; this one
  // drops them, as a kernel socket with a full send buffer would.
  (void)socket.send_batch(std::span<const OutDatagram>(out.data(), n));
  socket.done(std::span<const Datagram>(batch.data(), n));
  return n;
}

// The copying style: what is waiting, one datagram at a time. The receive
// copies the payload and gives the frame back at once; the local address it
// came to (asked for with receive_local_address) is the reply's source.
size_t serve_copying(UdpSocket& socket) {
  size_t n = 0;
  std::array<uint8_t, kMaxReply> reply;
  std::memcpy(reply.data(), kGreeting, sizeof(kGreeting) - 1);
  std::span<uint8_t> room(reply.data() + sizeof(kGreeting) - 1, kMaxReply - sizeof(kGreeting) + 1);
  for (; n < kBatch; ++n) {
    auto got = socket.receive_copy(room, lrp::sockets::kNoWait);
    if (!got) break;  // EAGAIN: nothing more for now
    const lrp::IpAddress from = got->local->addr;
    (void)socket.send_to(got->source, {reply.data(), sizeof(kGreeting) - 1 + got->size}, &from);
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) return usage(argv[0]);
  auto threading = lrp::sched::parse_threading(o.threading);
  if (!threading) return fail(threading.error());

  struct sigaction sa {};
  sa.sa_handler = [](int) { stop = 1; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // One stack per interface: it attaches XDP and owns the engine and the
  // scheduler (and, when asked, the metrics endpoint).
  lrp::sockets::StackConfig config;
  config.in_process = true;
  config.ifname = o.iface;
  config.threading = threading.value();
  config.metrics = o.metrics;
  auto stack = lrp::sockets::Stack::open(config);
  if (!stack) return fail(stack.error());

  // Two sockets, each with an application of its own.
  std::vector<std::unique_ptr<UdpSocket>> sockets;
  for (const lrp::IpAddress any : {lrp::IpAddress::any_v4(), lrp::IpAddress::any_v6()}) {
    lrp::sockets::SocketConfig socket_config;
    socket_config.receive_local_address = true;
    auto socket = stack.value()->open_udp(lrp::BindSpec{any, o.port, std::nullopt}, socket_config);
    if (!socket) return fail(socket.error());
    sockets.push_back(std::move(socket.value()));
  }

  // Readiness fds are level-triggered: readable while a receive would find
  // something, so any epoll, poll or select loop can wait on them.
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  for (auto& socket : sockets) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = socket.get();
    epoll_ctl(ep, EPOLL_CTL_ADD, socket->ready_fd(), &ev);
  }
  std::fprintf(stderr, "lrp-hello-udp: port %u on %s, threading %s, %s receive%s%s\n", o.port,
               o.iface.c_str(), lrp::sched::to_string(config.threading),
               o.copy ? "copying" : "zero-copy", o.metrics.empty() ? "" : ", metrics at ",
               stack.value()->metrics_url().c_str());

  long answered = 0;
  while (!stop && (o.count == 0 || answered < o.count)) {
    epoll_event events[2];
    const int n = epoll_wait(ep, events, 2, 100);
    // In run-to-completion threading, the protocol work for these datagrams
    // happens here, inside receive, in this thread.
    // A full batch suggests more is waiting: serve again before waiting.
    for (int i = 0; i < n; ++i) {
      auto& socket = *static_cast<UdpSocket*>(events[i].data.ptr);
      size_t got = 0;
      do {
        got = o.copy ? serve_copying(socket) : serve(socket);
        answered += static_cast<long>(got);
      } while (got == kBatch);
    }
  }
  close(ep);
  std::printf("lrp-hello-udp: answered %ld\n", answered);
  return 0;
}
