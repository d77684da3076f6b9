#include "tests/exporters/live_bench.h"

#include <chrono>

#include "tests/support/scheduled_socket.h"

namespace lrp::test {

using Clock = std::chrono::steady_clock;

std::string open_live_bench(LiveBench& b, const char* tag, const sched::SchedulerConfig* config) {
  b.veth = std::make_unique<VethBench>(tag);
  if (!b.veth->ok) return "could not build the veth bench";
  b.guard = std::make_unique<NetnsGuard>(b.veth->server_ns);
  if (!b.guard->ok()) return "could not enter " + b.veth->server_ns;
  InterfaceConfig ic;
  ic.ifname = b.veth->server_if;
  auto iface = Interface::open(ic);
  if (!iface) return iface.error().message();
  b.iface = std::move(iface.value());
  b.engine = &b.iface->engine(0);
  if (config != nullptr)
    b.scheduler = std::make_unique<sched::Scheduler>(*b.engine, *config, b.clock);
  return {};
}

Result<sched::AppId> add_udp_app(LiveBench& b, const std::string& name, uint16_t port,
                                 uint32_t queue_bound) {
  sched::Scheduler& s = *b.scheduler;
  auto app = s.add_app({.name = name, .weight = 1, .queue_bound = queue_bound, .held_cap = 512});
  if (!app) return app.error();
  BindSpec bind;
  bind.local = IpAddress::any_v4();
  bind.port = port;
  auto slot = open_scheduled(*b.iface, s, app.value(), bind, SocketOptions{.held_cap = 512});
  if (!slot) return slot.error();
  return app.value();
}

AppReader::AppReader(sched::Scheduler& s, sched::AppId app) {
  thread_ = std::thread([this, &s, app] {
    Datagram d[64];
    while (running_.load()) {
      const size_t n = s.receive(app, d, 10);
      for (size_t i = 0; i < n; ++i) s.done(d[i]);
      received_ += n;
    }
  });
}

AppReader::~AppReader() {
  running_ = false;
  thread_.join();
}

bool AppReader::wait_for(uint64_t count, int timeout_ms) const {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (received_.load() < count && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return received_.load() >= count;
}

PacedResult send_paced(UdpPeer& peer, uint16_t port, uint32_t rate, double seconds,
                       size_t payload) {
  constexpr auto kTick = std::chrono::milliseconds(10);
  const uint64_t total = static_cast<uint64_t>(rate * seconds);
  const uint64_t per_tick = std::max<uint64_t>(1, rate / 100);
  PacedResult r;
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds);
  auto next = start;
  auto last = start;
  while (r.sent < total && Clock::now() < stop) {
    std::this_thread::sleep_until(next);
    const uint64_t want = std::min(per_tick, total - r.sent);
    r.sent += peer.send_many(VethBench::kServer4, port, want, payload);
    last = Clock::now();
    next += kTick;
  }
  // Rate over whole ticks: the last batch opens a tick of its own.
  r.seconds = std::chrono::duration<double>(last - start).count() +
              std::chrono::duration<double>(kTick).count();
  return r;
}

}  // namespace lrp::test
