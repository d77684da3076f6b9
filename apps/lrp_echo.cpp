// UDP echo server on the lrp native path: replies to every datagram with the
// same payload, after --work-ns of application work.
#include <sys/epoll.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "apps/options.h"
#include "apps/spin.h"
#include "apps/stop_signal.h"
#include "lrp/engine.h"

namespace {

constexpr size_t kBatch = 64;

int fail(const lrp::Error& e) {
  std::fprintf(stderr, "lrp-echo: %s\n", e.message().c_str());
  return 1;
}

// Echoes one batch from one socket; returns the number of datagrams handled.
size_t echo_batch(lrp::Engine& engine, lrp::SlotId slot, int64_t work_ns) {
  lrp::Datagram batch[kBatch];
  lrp::ProcessResult r = engine.process(slot, batch);
  for (size_t i = 0; i < r.delivered; ++i) {
    const lrp::Datagram& d = batch[i];
    lrp::spin_for_ns(work_ns);
    const lrp::IpAddress local = d.view.destination.addr;
    lrp::Status st = engine.send(slot, d.view.source, d.view.payload, &local);
    if (!st.ok() && st.error().code == EAGAIN) {
      (void)engine.flush(slot);
      st = engine.send(slot, d.view.source, d.view.payload, &local);
    }
    // A reply that cannot be queued is dropped, as a kernel UDP send would.
    engine.release(d);
  }
  if (r.delivered > 0) (void)engine.flush(slot);
  return r.taken;
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
  if (auto st = lrp::pin_to_cpu(o.cpu); !st.ok()) return fail(st.error());
  lrp::install_stop_handlers();

  lrp::EngineConfig config;
  config.ifname = o.iface;
  config.xdp_mode = o.generic_xdp ? lrp::XdpMode::Generic : lrp::XdpMode::Native;
  auto engine = lrp::Engine::open(config);
  if (!engine) return fail(engine.error());
  std::vector<lrp::SlotId> slots;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (uint16_t port : o.ports) {
    for (bool v6 : {false, true}) {
      lrp::BindSpec bind;
      bind.local = v6 ? lrp::IpAddress::any_v6() : lrp::IpAddress::any_v4();
      bind.port = port;
      auto slot = engine.value()->open_socket(bind, {});
      if (!slot) return fail(slot.error());
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = slot.value();
      epoll_ctl(ep, EPOLL_CTL_ADD, engine.value()->socket_fd(slot.value()), &ev);
      slots.push_back(slot.value());
    }
  }
  if (!o.quiet) std::fprintf(stderr, "lrp-echo: serving %zu ports on %s\n", o.ports.size(),
                             o.iface.c_str());
  const auto start = std::chrono::steady_clock::now();
  while (!lrp::stop_requested()) {
    if (o.duration_s > 0 && std::chrono::steady_clock::now() - start >
                                std::chrono::duration<double>(o.duration_s))
      break;
    epoll_event events[64];
    const int n = epoll_wait(ep, events, 64, 100);
    if (n <= 0) continue;
    // Woken: poll every socket until a whole pass finds nothing.
    size_t done = 1;
    while (done > 0 && !lrp::stop_requested()) {
      done = 0;
      for (lrp::SlotId slot : slots) done += echo_batch(*engine.value(), slot, o.work_ns);
    }
  }
  return 0;
}
