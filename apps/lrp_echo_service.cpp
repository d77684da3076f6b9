#include "apps/lrp_echo_service.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "apps/sockperf_reply.h"
#include "apps/spin.h"
#include "apps/stop_signal.h"
#include "sockets/api/lrp_sockets.h"

namespace lrp {
namespace {

constexpr size_t kBatch = 64;

struct Port {
  std::unique_ptr<sockets::UdpSocket> socket;
  int64_t work_ns = 0;
  bool reads = true;  // false: bound, never read
  std::atomic<uint64_t> received{0};
};

void serve(Port& p, const EchoOptions& o, const std::atomic<bool>& finished) {
  (void)pin_to_cpu(o.cpu);
  Datagram batch[kBatch];
  uint8_t copy[2048];
  while (!stop_requested() && !finished.load(std::memory_order_relaxed)) {
    auto got = p.socket->receive(batch, 100);
    if (!got || got.value() == 0) continue;
    const size_t n = got.value();
    p.received.fetch_add(n, std::memory_order_relaxed);
    for (size_t i = 0; i < n && !o.sink; ++i) {
      spin_for_ns(p.work_ns);
      std::span<const uint8_t> payload = batch[i].view.payload;
      if (o.reply != ReplyRule::Echo && payload.size() <= sizeof(copy)) {
        std::memcpy(copy, payload.data(), payload.size());
        std::span<uint8_t> message(copy, payload.size());
        if (make_reply(o.reply, message) == ReplyAction::Consume) continue;
        payload = message;
      }
      // A reply that cannot be queued is dropped, as a kernel UDP send would.
      (void)p.socket->reply(batch[i], payload);
    }
    p.socket->done(std::span<const Datagram>(batch, n));
  }
}

}  // namespace

int serve_on_lrpd(const EchoOptions& o) {
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "lrp-echo: %s\n", e.message().c_str());
    return 1;
  };
  if (auto st = pin_to_cpu(o.cpu); !st.ok()) return fail(st.error());
  install_stop_handlers();
  auto mode = sched::parse_mode(o.mode);
  if (!mode) return fail(mode.error());
  sockets::StackConfig config;
  config.lrpd_socket = o.lrpd;
  // How a receive waits: spin first (adaptive), spin only (poll) or sleep.
  config.mode = mode.value();
  config.quiet = o.quiet;
  auto stack = sockets::Stack::open(config);
  if (!stack) return fail(stack.error());
  std::vector<std::unique_ptr<Port>> ports;
  for (uint16_t port : o.ports) {
    sockets::SocketConfig sc;
    sc.application = {.name = "port-" + std::to_string(port),
                      .weight = o.weight,
                      .queue_bound = o.app_queue,
                      .held_cap = o.held_cap};
    auto socket = stack.value()->open_udp({.local = IpAddress::any_v4(), .port = port}, sc);
    if (!socket) return fail(socket.error());
    auto p = std::make_unique<Port>();
    p->socket = std::move(socket.value());
    p->work_ns = work_for_port(o, port);
    p->reads = !is_unread(o, port);
    ports.push_back(std::move(p));
  }
  if (!o.quiet)
    std::fprintf(stderr, "lrp-echo: serving %zu port(s) through lrpd, weight %u\n", ports.size(),
                 o.weight);
  std::atomic<bool> finished{false};
  std::vector<std::thread> threads;
  for (auto& p : ports)
    if (p->reads) threads.emplace_back([&, pp = p.get()] { serve(*pp, o, finished); });
  auto report = [&] {
    uint64_t sum = 0;
    for (const auto& p : ports) sum += p->received.load(std::memory_order_relaxed);
    std::printf("lrp-echo: received=%llu\n", static_cast<unsigned long long>(sum));
    std::fflush(stdout);
  };
  serve_until_stopped(o.duration_s, report);
  finished = true;
  for (auto& t : threads) t.join();
  report();
  return 0;
}

}  // namespace lrp
