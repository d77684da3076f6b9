// UDP echo server on the lrp native path: replies to every datagram with the
// same payload, after --work-ns of application work.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "apps/options.h"
#include "apps/spin.h"
#include "apps/stop_signal.h"
#include "exporters/metrics_server.h"
#include "lrp/engine.h"
#include "sched/runtime/scheduler.h"

namespace {

constexpr size_t kBatch = 64;

int fail(const lrp::Error& e) {
  std::fprintf(stderr, "lrp-echo: %s\n", e.message().c_str());
  return 1;
}

// Replies to one received datagram from the socket it arrived on.
void echo(lrp::Engine& engine, const lrp::Datagram& d, int64_t work_ns) {
  lrp::spin_for_ns(work_ns);
  const lrp::IpAddress local = d.view.destination.addr;
  lrp::Status st = engine.send(d.slot, d.view.source, d.view.payload, &local);
  if (!st.ok() && st.error().code == EAGAIN) {
    (void)engine.flush(d.slot);
    st = engine.send(d.slot, d.view.source, d.view.payload, &local);
  }
  // A reply that still cannot be queued is dropped, as a kernel UDP send would.
}

// One line a script can parse: what was received and what the engine did.
void print_summary(const lrp::sched::Scheduler& s, uint64_t received) {
  const auto& e = s.engine_counters();
  uint64_t charged = 0;
  for (const auto& app : s.apps()) charged += s.app_counters(app.id).charged_ns.load();
  std::printf(
      "lrp-echo: received=%llu passes=%llu empty_passes=%llu wakeups=%llu "
      "switches_to_poll=%llu switches_to_interrupt=%llu charged_ns=%llu idle_poll_ns=%llu "
      "sleep_ns=%llu engine_cpu_ns=%lld\n",
      static_cast<unsigned long long>(received), static_cast<unsigned long long>(e.passes.load()),
      static_cast<unsigned long long>(e.empty_passes.load()),
      static_cast<unsigned long long>(e.wakeups.load()),
      static_cast<unsigned long long>(e.switches_to_poll.load()),
      static_cast<unsigned long long>(e.switches_to_interrupt.load()),
      static_cast<unsigned long long>(charged),
      static_cast<unsigned long long>(e.idle_poll_ns.load()),
      static_cast<unsigned long long>(e.sleep_ns.load()),
      static_cast<long long>(s.engine_cpu_ns()));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = lrp::parse_echo_options(argc, argv, /*needs_iface=*/true);
  if (!parsed) {
    std::fprintf(stderr, "lrp-echo: %s\n%s", parsed.error().message().c_str(),
                 lrp::echo_usage(argv[0], true).c_str());
    return 2;
  }
  const lrp::EchoOptions& o = parsed.value();
  auto mode = lrp::sched::parse_mode(o.mode);
  auto threading = lrp::sched::parse_threading(o.threading);
  if (!mode) return fail(mode.error());
  if (!threading) return fail(threading.error());
  if (auto st = lrp::pin_to_cpu(o.cpu); !st.ok()) return fail(st.error());
  lrp::install_stop_handlers();

  lrp::EngineConfig config;
  config.ifname = o.iface;
  config.xdp_mode = o.generic_xdp ? lrp::XdpMode::Generic : lrp::XdpMode::Native;
  auto engine = lrp::Engine::open(config);
  if (!engine) return fail(engine.error());
  lrp::sched::SchedulerConfig sc;
  sc.mode = mode.value();
  sc.threading = threading.value();
  sc.engine_cpu = o.cpu;
  sc.busy_poll = o.busy_poll;
  lrp::sched::MonotonicClock clock;
  lrp::sched::Scheduler scheduler(*engine.value(), sc, clock);
  auto app = scheduler.add_app({.name = "echo", .weight = 1, .queue_bound = 1024, .held_cap = 512});
  if (!app) return fail(app.error());
  for (uint16_t port : o.ports) {
    for (bool v6 : {false, true}) {
      lrp::BindSpec bind;
      bind.local = v6 ? lrp::IpAddress::any_v6() : lrp::IpAddress::any_v4();
      bind.port = port;
      auto slot = scheduler.add_socket(app.value(), bind);
      if (!slot) return fail(slot.error());
    }
  }
  std::unique_ptr<lrp::exporters::MetricsServer> metrics;
  if (!o.metrics.empty()) {
    auto server = lrp::exporters::MetricsServer::start(o.metrics, *engine.value(), &scheduler);
    if (!server) return fail(server.error());
    metrics = std::move(server.value());
    if (!o.quiet) std::fprintf(stderr, "lrp-echo: metrics at %s\n", metrics->url().c_str());
  }
  if (auto st = scheduler.start(); !st.ok()) return fail(st.error());
  if (!o.quiet)
    std::fprintf(stderr, "lrp-echo: serving %zu port(s) on %s, mode %s, threading %s\n",
                 o.ports.size(), o.iface.c_str(), lrp::sched::to_string(scheduler.config().mode),
                 lrp::sched::to_string(scheduler.config().threading));

  const auto start = std::chrono::steady_clock::now();
  lrp::Datagram batch[kBatch];
  uint64_t received = 0;
  std::vector<lrp::SlotId> touched;
  while (!lrp::stop_requested()) {
    if (o.duration_s > 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::duration<double>(o.duration_s))
      break;
    const size_t n = scheduler.receive(app.value(), batch, 100);
    touched.clear();
    received += n;
    for (size_t i = 0; i < n && !o.sink; ++i) {
      echo(*engine.value(), batch[i], o.work_ns);
      if (std::find(touched.begin(), touched.end(), batch[i].slot) == touched.end())
        touched.push_back(batch[i].slot);
    }
    scheduler.done(std::span<const lrp::Datagram>(batch, n));
    for (lrp::SlotId slot : touched) (void)engine.value()->flush(slot);
  }
  scheduler.stop();
  metrics.reset();
  print_summary(scheduler, received);
  return 0;
}
