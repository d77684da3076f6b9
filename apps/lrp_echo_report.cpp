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

void print_echo_report(sched::Scheduler& s, uint64_t received) {
  const auto& e = s.engine_counters();
  uint64_t charged = 0, queue_full = 0, ring_full = 0, fill_empty = 0, invalid = 0;
  for (const auto& app : s.apps()) {
    const auto& c = s.app_counters(app.id);
    charged += c.charged_ns.load();
    queue_full += c.queue_full_drops.load();
    for (SlotId slot : app.slots) {
      if (auto k = s.engine().kernel_stats(slot)) {
        ring_full += k.value().rx_ring_full;
        // Counted per pool: every socket of the queue shows the same number.
        fill_empty = std::max<uint64_t>(fill_empty, k.value().rx_fill_ring_empty_descs);
      }
      for (const auto& reason : s.engine().counters(slot).invalid) invalid += reason.load();
    }
  }
  GlobalCounters g;
  if (auto read = s.engine().program().global_counters()) g = read.value();
  std::printf(
      "lrp-echo: received=%llu passes=%llu empty_passes=%llu wakeups=%llu "
      "switches_to_poll=%llu switches_to_interrupt=%llu charged_ns=%llu idle_poll_ns=%llu "
      "sleep_ns=%llu engine_cpu_ns=%lld xdp_seen=%llu xdp_redirected=%llu xdp_shed=%llu "
      "ring_full=%llu fill_empty=%llu app_queue_full=%llu invalid=%llu\n",
      u(received), u(e.passes.load()), u(e.empty_passes.load()), u(e.wakeups.load()),
      u(e.switches_to_poll.load()), u(e.switches_to_interrupt.load()), u(charged),
      u(e.idle_poll_ns.load()), u(e.sleep_ns.load()), static_cast<long long>(s.engine_cpu_ns()),
      u(g.at(LRP_G_SEEN)), u(g.at(LRP_G_REDIRECTED)), u(g.at(LRP_G_SHED)), u(ring_full),
      u(fill_empty), u(queue_full), u(invalid));
  std::fflush(stdout);
}

}  // namespace lrp
