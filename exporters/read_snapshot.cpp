#include "exporters/read_snapshot.h"

#include <linux/if_xdp.h>

#include <algorithm>
#include <optional>

#include "exporters/histogram_snapshot.h"

namespace lrp::exporters {

namespace {

uint64_t load(const std::atomic<uint64_t>& c) {
  return c.load(std::memory_order_relaxed);
}

SocketSnapshot read_socket(Engine& engine, SlotId slot, uint64_t* read_errors) {
  SocketSnapshot s;
  s.slot = slot;
  s.socket = socket_label(engine.bound(slot));
  const SocketCounters& c = engine.counters(slot);
  s.delivered = load(c.delivered);
  s.delivered_bytes = load(c.delivered_bytes);
  for (size_t r = 0; r < c.invalid.size(); ++r)
    s.invalid.push_back({to_string(static_cast<DropReason>(r)), load(c.invalid[r])});
  s.held_cap_reached = load(c.held_cap_reached);
  s.partial_checksum = load(c.partial_checksum);
  s.sent = load(c.sent);
  s.sent_bytes = load(c.sent_bytes);
  s.send_would_block = load(c.send_would_block);
  s.completed = load(c.completed);
  s.rx_ring_frames = engine.rx_ring_entries(slot);
  if (auto k = engine.kernel_stats(slot); k.ok()) {
    s.kernel =
        KernelSocketStats{k->rx_dropped,   k->rx_invalid_descs,         k->tx_invalid_descs,
                          k->rx_ring_full, k->rx_fill_ring_empty_descs, k->tx_ring_empty_descs};
  } else {
    ++*read_errors;
  }
  if (auto x = engine.program().slot_counters(slot); x.ok())
    s.xdp = x->value;
  else
    ++*read_errors;
  return s;
}

FrameSnapshot read_frames(Engine& engine) {
  const FrameCounts c = engine.frames().counts();
  FrameSnapshot f;
  f.free = c.at(FramePlace::Free);
  f.held = c.at(FramePlace::Held);
  f.tx = c.at(FramePlace::KernelTx);
  // The pool knows only "with the kernel for receive"; the fill ring says how
  // many of those still wait for a packet. Read a moment apart, so clamp.
  const uint64_t kernel_rx = c.at(FramePlace::KernelRx);
  f.fill = std::min<uint64_t>(engine.fill_ring_entries(), kernel_rx);
  f.rx = kernel_rx - f.fill;
  f.violations = engine.frames().violations();
  return f;
}

// Counters of an application that left while the scrape ran are skipped.
std::optional<AppSnapshot> read_app(const sched::Scheduler& scheduler, const sched::AppInfo& info) {
  AppSnapshot a;
  const bool present =
      scheduler.with_app(info.id, [&](const sched::AppCounters& c, size_t queued_now) {
        a.name = info.name;
        a.weight = info.weight;
        a.charged_ns = load(c.charged_ns);
        a.visits = load(c.visits);
        a.frames = load(c.frames);
        a.queued_total = load(c.delivered);
        a.queue_full_drops = load(c.queue_full_drops);
        a.skipped_full = load(c.skipped_full);
        a.shed_raised = load(c.shed_raised);
        a.shed_lowered = load(c.shed_lowered);
        a.shed = c.shed.load(std::memory_order_relaxed);
        a.queued_now = queued_now;
        a.batch_size = read_histogram(c.batch_size);
        a.queue_depth = read_histogram(c.queue_depth);
      });
  if (!present) return std::nullopt;
  return a;
}

SchedulerSnapshot read_scheduler(const sched::Scheduler& scheduler,
                                 const std::vector<sched::AppInfo>& apps) {
  const sched::EngineCounters& c = scheduler.engine_counters();
  SchedulerSnapshot s;
  s.mode = sched::to_string(scheduler.config().mode);
  s.threading = sched::to_string(scheduler.config().threading);
  s.polling = c.polling.load(std::memory_order_relaxed);
  s.passes = load(c.passes);
  s.empty_passes = load(c.empty_passes);
  s.wakeups = load(c.wakeups);
  s.sleeps = load(c.sleeps);
  s.deferrals = load(c.deferrals);
  s.yields = load(c.yields);
  s.answer_spins = load(c.answer_spins);
  s.answer_misses = load(c.answer_misses);
  s.switches_to_poll = load(c.switches_to_poll);
  s.switches_to_interrupt = load(c.switches_to_interrupt);
  s.idle_poll_ns = load(c.idle_poll_ns);
  if (scheduler.config().threading == sched::Threading::Dedicated)
    s.engine_cpu_ns = static_cast<uint64_t>(std::max<int64_t>(0, scheduler.engine_cpu_ns()));
  for (const sched::AppInfo& info : apps)
    if (auto a = read_app(scheduler, info)) s.apps.push_back(std::move(*a));
  return s;
}

}  // namespace

std::string socket_label(const Endpoint& bound) {
  const std::string port = std::to_string(bound.port);
  if (bound.addr.is_any()) return port + (bound.addr.is_v4() ? "/ipv4" : "/ipv6");
  if (bound.addr.is_v4()) return bound.addr.to_string() + ":" + port;
  std::string s = "[";
  s += bound.addr.to_string();
  s += "]:";
  s += port;
  return s;
}

EngineSnapshot read_snapshot(Engine& engine, const sched::Scheduler* scheduler,
                             uint64_t* read_errors) {
  EngineSnapshot e;
  e.interface = engine.config().ifname;
  e.queue = engine.config().queue;
  e.frames = read_frames(engine);

  // Which application owns which slot; sockets opened on the engine directly
  // have none.
  std::vector<sched::AppInfo> apps;
  if (scheduler != nullptr) apps = scheduler->apps();
  std::array<const std::string*, LRP_MAX_SLOTS> owner{};
  for (const sched::AppInfo& a : apps)
    for (SlotId slot : a.slots)
      if (slot < owner.size()) owner[slot] = &a.name;

  for (SlotId slot = 0; slot < LRP_MAX_SLOTS; ++slot) {
    SocketSnapshot s;
    // A socket closed while the scrape runs is skipped, never read freed.
    if (!engine.with_open_socket(slot, [&] { s = read_socket(engine, slot, read_errors); }))
      continue;
    if (owner[slot] != nullptr) s.app = *owner[slot];
    if (s.kernel && !e.fill_ring_empty_descs)
      e.fill_ring_empty_descs = s.kernel->rx_fill_ring_empty_descs;
    e.sockets.push_back(std::move(s));
  }
  if (auto g = engine.program().global_counters(); g.ok())
    e.xdp_global = g->value;
  else
    ++*read_errors;
  if (scheduler != nullptr) e.scheduler = read_scheduler(*scheduler, apps);
  e.read_errors = *read_errors;
  return e;
}

}  // namespace lrp::exporters
