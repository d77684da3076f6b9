#include "apps/lrp_echo_report.h"

#include <linux/if_xdp.h>

#include <algorithm>
#include <cstdio>

namespace lrp {

namespace {
unsigned long long u(uint64_t v) {
  return static_cast<unsigned long long>(v);
}
}  // namespace

void print_echo_report(runtime::InterfaceRuntime& r, uint64_t received) {
  uint64_t passes = 0, empty = 0, wakeups = 0, to_poll = 0, to_interrupt = 0, idle = 0, sleep = 0;
  uint64_t charged = 0, queue_full = 0, ring_full = 0, fill_empty = 0, invalid = 0;
  int64_t engine_cpu = 0;
  for (size_t q = 0; q < r.queue_count(); ++q) {
    sched::Scheduler& s = r.scheduler(q);
    Engine& engine = r.engine(q);
    const auto& e = s.engine_counters();
    passes += e.passes.load();
    empty += e.empty_passes.load();
    wakeups += e.wakeups.load();
    to_poll += e.switches_to_poll.load();
    to_interrupt += e.switches_to_interrupt.load();
    idle += e.idle_poll_ns.load();
    sleep += e.sleep_ns.load();
    engine_cpu += s.engine_cpu_ns();
    uint64_t queue_fill_empty = 0;
    for (const auto& app : s.apps()) {
      const auto& c = s.app_counters(app.id);
      charged += c.charged_ns.load();
      queue_full += c.queue_full_drops.load();
      for (SlotId slot : app.slots) {
        if (auto k = engine.kernel_stats(slot)) {
          ring_full += k.value().rx_ring_full;
          // Counted per pool: every socket of the queue shows the same number.
          queue_fill_empty =
              std::max<uint64_t>(queue_fill_empty, k.value().rx_fill_ring_empty_descs);
        }
        for (const auto& reason : engine.counters(slot).invalid) invalid += reason.load();
      }
    }
    fill_empty += queue_fill_empty;
  }
  GlobalCounters g;
  if (auto read = r.interface().program().global_counters()) g = read.value();
  std::printf(
      "lrp-echo: received=%llu passes=%llu empty_passes=%llu wakeups=%llu "
      "switches_to_poll=%llu switches_to_interrupt=%llu charged_ns=%llu idle_poll_ns=%llu "
      "sleep_ns=%llu engine_cpu_ns=%lld xdp_seen=%llu xdp_redirected=%llu xdp_shed=%llu "
      "ring_full=%llu fill_empty=%llu app_queue_full=%llu invalid=%llu queues=%zu\n",
      u(received), u(passes), u(empty), u(wakeups), u(to_poll), u(to_interrupt), u(charged),
      u(idle), u(sleep), static_cast<long long>(engine_cpu), u(g.at(LRP_G_SEEN)),
      u(g.at(LRP_G_REDIRECTED)), u(g.at(LRP_G_SHED)), u(ring_full), u(fill_empty), u(queue_full),
      u(invalid), r.queue_count());
  std::fflush(stdout);
}

}  // namespace lrp
