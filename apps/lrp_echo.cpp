// UDP echo server on the lrp native path: replies to every datagram with the
// same payload (or as a sockperf server would), after --work-ns of application
// work; or relays datagrams to a fixed destination (--forward). Each
// application is served by its own thread; --app-per-port makes one scheduler
// application per port, so a flooded port cannot take a quiet port's share.
// With --lrpd it attaches to the host's daemon instead of running lrp itself.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "apps/lrp_echo_report.h"
#include "apps/lrp_echo_service.h"
#include "apps/options.h"
#include "apps/sockperf_reply.h"
#include "apps/spin.h"
#include "apps/stop_signal.h"
#include "exporters/metrics_server.h"
#include "lrp/engine.h"
#include "lrp/link_monitor.h"
#include "runtime/interface_runtime.h"

namespace {

constexpr size_t kBatch = 64;

int fail(const lrp::Error& e) {
  std::fprintf(stderr, "lrp-echo: %s\n", e.message().c_str());
  return 1;
}

// Where an application's replies go: back to the sender, or (relay) from the
// second port's socket to a fixed destination.
struct Route {
  std::optional<lrp::Endpoint> forward;
  uint16_t in_port = 0;
  lrp::SlotId out_slot = 0;
};

struct Worker {
  lrp::runtime::AppRef app = 0;
  Route route;
  int64_t work_ns = 0;
  bool reads = true;  // false: bound, never read
  std::atomic<uint64_t> received{0};
};

// Answers one received datagram on the queue it arrived on; returns the
// engine and slot it sent from, if any.
std::optional<std::pair<lrp::Engine*, lrp::SlotId>> respond(lrp::runtime::InterfaceRuntime& r,
                                                            const lrp::Datagram& d,
                                                            const lrp::EchoOptions& o,
                                                            const Worker& w) {
  const Route& route = w.route;
  lrp::spin_for_ns(w.work_ns);
  uint8_t copy[2048];
  std::span<const uint8_t> payload = d.view.payload;
  if (o.reply != lrp::ReplyRule::Echo && payload.size() <= sizeof(copy)) {
    std::memcpy(copy, payload.data(), payload.size());
    std::span<uint8_t> message(copy, payload.size());
    if (lrp::make_reply(o.reply, message) == lrp::ReplyAction::Consume) return std::nullopt;
    payload = message;
  }
  lrp::SlotId slot = d.slot;
  lrp::Endpoint to = d.view.source;
  lrp::Engine* engine = r.engine_of_queue(d.queue);
  if (route.forward) {
    if (d.view.destination.port != route.in_port) return std::nullopt;
    slot = route.out_slot;
    to = *route.forward;
  }
  if (engine == nullptr) return std::nullopt;
  const lrp::IpAddress local = d.view.destination.addr;
  const lrp::IpAddress* from = local.is_v4() == to.addr.is_v4() ? &local : nullptr;
  lrp::Status st = engine->send(slot, to, payload, from);
  if (!st.ok() && st.error().code == EAGAIN) {
    (void)engine->flush(slot);
    st = engine->send(slot, to, payload, from);
  }
  // A reply that still cannot be queued is dropped, as a kernel UDP send would.
  return std::make_pair(engine, slot);
}

void serve(lrp::runtime::InterfaceRuntime& r, Worker& w, const lrp::EchoOptions& o,
           const std::atomic<bool>& finished) {
  (void)lrp::pin_to_cpu(o.cpu);
  lrp::Datagram batch[kBatch];
  std::vector<std::pair<lrp::Engine*, lrp::SlotId>> touched;
  while (!lrp::stop_requested() && !finished.load(std::memory_order_relaxed)) {
    const size_t n = r.receive(w.app, batch, 100);
    touched.clear();
    w.received.fetch_add(n, std::memory_order_relaxed);
    for (size_t i = 0; i < n && !o.sink; ++i) {
      auto sent = respond(r, batch[i], o, w);
      if (sent && std::find(touched.begin(), touched.end(), *sent) == touched.end())
        touched.push_back(*sent);
    }
    r.done(std::span<const lrp::Datagram>(batch, n));
    for (auto [engine, slot] : touched) (void)engine->flush(slot);
  }
}

}  // namespace

int main(int argc, char** argv) {
  lrp::EchoOptions o;
  if (auto exit = lrp::parse_echo_options(argc, argv, /*lrp=*/true, &o)) return *exit;
  if (!o.lrpd.empty()) return lrp::serve_on_lrpd(o);
  auto mode = lrp::sched::parse_mode(o.mode);
  auto threading = lrp::sched::parse_threading(o.threading);
  if (!mode) return fail(mode.error());
  if (!threading) return fail(threading.error());
  if (auto st = lrp::pin_to_cpu(o.cpu); !st.ok()) return fail(st.error());
  lrp::install_stop_handlers();

  lrp::runtime::RuntimeConfig config;
  config.interface.ifname = o.iface;
  config.interface.xdp_mode = o.generic_xdp ? lrp::XdpMode::Generic : lrp::XdpMode::Native;
  config.scheduler.mode = mode.value();
  config.scheduler.threading = threading.value();
  config.scheduler.engine_cpu = o.cpu;
  config.scheduler.busy_poll = o.busy_poll;
  config.scheduler.engine_rt_priority = o.engine_priority;
  if (o.cpu >= 0) config.cpus = {o.cpu};
  config.program = "lrp-echo";
  config.on_link_change = lrp::LinkMonitor::stop_on_delete();
  auto opened = lrp::runtime::InterfaceRuntime::open(config);
  if (!opened) return fail(opened.error());
  lrp::runtime::InterfaceRuntime& runtime = *opened.value();
  // One application per port, or one for all of them.
  std::vector<std::vector<uint16_t>> groups;
  if (o.app_per_port)
    for (uint16_t port : o.ports) groups.push_back({port});
  else
    groups.push_back(o.ports);
  std::vector<std::unique_ptr<Worker>> workers;
  for (const auto& ports : groups) {
    const std::string name = o.app_per_port ? "port-" + std::to_string(ports[0]) : "echo";
    auto app = runtime.add_app(
        {.name = name, .weight = 1, .queue_bound = o.app_queue, .held_cap = o.held_cap});
    if (!app) return fail(app.error());
    auto w = std::make_unique<Worker>();
    w->app = app.value();
    w->work_ns = lrp::work_for_port(o, ports[0]);
    w->reads = !lrp::is_unread(o, ports[0]);
    if (!o.forward.empty()) {
      w->route.forward = lrp::parse_endpoint(o.forward).value();
      w->route.in_port = ports[0];
    }
    for (uint16_t port : ports) {
      for (bool v6 : {false, true}) {
        lrp::BindSpec bind;
        bind.local = v6 ? lrp::IpAddress::any_v6() : lrp::IpAddress::any_v4();
        bind.port = port;
        auto slot = runtime.add_socket(app.value(), bind);
        if (!slot) return fail(slot.error());
        if (w->route.forward && port != ports[0] && v6 != w->route.forward->addr.is_v4())
          w->route.out_slot = slot.value();
      }
    }
    workers.push_back(std::move(w));
  }
  std::unique_ptr<lrp::exporters::MetricsServer> metrics;
  if (!o.metrics.empty()) {
    auto server = lrp::exporters::MetricsServer::start(o.metrics, runtime.metrics_sources());
    if (!server) return fail(server.error());
    metrics = std::move(server.value());
    if (!o.quiet) std::fprintf(stderr, "lrp-echo: metrics at %s\n", metrics->url().c_str());
  }
  if (auto st = runtime.start(); !st.ok()) return fail(st.error());
  if (!o.quiet)
    std::fprintf(stderr,
                 "lrp-echo: serving %zu port(s) on %s (%zu queue(s)), mode %s, threading %s\n",
                 o.ports.size(), o.iface.c_str(), runtime.queue_count(),
                 lrp::sched::to_string(runtime.scheduler(0).config().mode),
                 lrp::sched::to_string(runtime.scheduler(0).config().threading));

  std::atomic<bool> finished{false};
  std::vector<std::thread> threads;
  for (auto& w : workers)
    if (w->reads) threads.emplace_back([&, wp = w.get()] { serve(runtime, *wp, o, finished); });
  auto received = [&] {
    uint64_t sum = 0;
    for (const auto& w : workers) sum += w->received.load(std::memory_order_relaxed);
    return sum;
  };
  lrp::serve_until_stopped(o.duration_s, [&] { lrp::print_echo_report(runtime, received()); });
  finished = true;
  for (auto& t : threads) t.join();
  runtime.stop();
  metrics.reset();
  lrp::print_echo_report(runtime, received());
  return 0;
}
