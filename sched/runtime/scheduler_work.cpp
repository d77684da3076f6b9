// The scheduler's core, part two: protocol work. Visits (one application's
// frames, up to a quota), delivery into its queue or channel, the engine's
// passes (weighted fair, or the eager baseline), transmit for applications
// in other processes, and the shed flag.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>

#include "sched/runtime/scheduler.h"
#include "sched/runtime/scheduler_app.h"

namespace lrp::sched {

size_t Scheduler::pending_frames(const App& a) const {
  size_t pending = 0;
  for (SlotId slot : a.slots) pending += engine_.rx_pending(slot);
  return pending;
}

size_t Scheduler::room_of(const App& a) const {
  if (a.channel == nullptr) return a.room();
  return std::min<size_t>(a.channel->room(), a.spec.queue_bound);
}

// Kernel busy polling: a receive call on the socket runs the device's NAPI
// poll here, in the polling thread, instead of waiting for its interrupt.
void Scheduler::drive_busy_poll(App& a) {
  if (!assist_.busy_polling()) return;
  for (SlotId slot : a.slots) {
    engine_.busy_poll(slot);
    counters_.busy_poll_calls.fetch_add(1, std::memory_order_relaxed);
  }
}

// Until the kernel's help is settled, a socket's first packet tells whether
// the device has a NAPI id.
void Scheduler::note_first_packets(App& a) {
  if (a.first_packet_pending.empty()) return;
  if (assist_.settled()) {
    a.first_packet_pending.clear();
    return;
  }
  for (SlotId slot : a.first_packet_pending) {
    if (engine_.counters(slot).delivered.load(std::memory_order_relaxed) == 0) continue;
    if (assist_.on_first_packet(slot)) settle_kernel_assist();
    a.first_packet_pending.clear();
    return;
  }
}

// The level is known: every socket and wait set gets it.
void Scheduler::settle_kernel_assist() {
  assist_.apply_epoll(epoll_fd_);
  for (const auto& a : apps_) {
    if (a == nullptr) continue;
    assist_.apply_epoll(a->rtc_epoll_fd);
    for (SlotId slot : a->slots) (void)assist_.apply_socket(slot);
    a->first_packet_pending.clear();
  }
}

// Protocol work for one application: up to `budget` frames from its sockets,
// round-robin, results into `out`. Timed and charged by the caller.
size_t Scheduler::visit(App& a, size_t budget, std::span<Datagram> out) {
  drive_busy_poll(a);
  size_t delivered = 0;
  size_t taken = 0;
  for (size_t tries = 0; tries < a.slots.size() && taken < budget; ++tries) {
    const SlotId slot = a.slots[a.next_socket % a.slots.size()];
    a.next_socket = (a.next_socket + 1) % a.slots.size();
    const size_t want = std::min(budget - taken, out.size() - delivered);
    ProcessResult r = engine_.process(slot, out.subspan(delivered, want));
    taken += r.taken;
    delivered += r.delivered;
  }
  bump(a.counters.visits);
  bump(a.counters.frames, taken);
  note_first_packets(a);
  return delivered;
}

// Run to completion: one look at the application's rings by its receiving
// thread, and its visit if there are frames. Only work is timed: an empty
// look costs a few loads, no clock reads.
size_t Scheduler::visit_rtc(App& a, std::span<Datagram> out) {
  size_t got = 0;
  {
    std::lock_guard lock(mutex_);
    if (pending_frames(a) > 0) {
      const Nanos w0 = wall_ns();
      got = visit(a, std::min(out.size(), config_.quota), out);
      charge_rtc(a, w0, wall_ns());
      bump(a.counters.delivered, got);
      if (got > 0) a.counters.batch_size.record(got);
    } else {
      drive_busy_poll(a);
    }
  }
  // Several receiving threads share the engine counters: atomic adds here.
  counters_.passes.fetch_add(1, std::memory_order_relaxed);
  if (got == 0) counters_.empty_passes.fetch_add(1, std::memory_order_relaxed);
  return got;
}

void Scheduler::update_shed(App& a, Nanos now, size_t used, size_t bound) {
  const ShedDecision d = a.shed.update(now, used, bound);
  if (!d.changed) return;
  for (SlotId slot : a.slots) (void)engine_.shed(slot, d.shed);
  a.counters.shed.store(d.shed, std::memory_order_relaxed);
  bump(d.shed ? a.counters.shed_raised : a.counters.shed_lowered);
}

// Hands a visit's datagrams to the application: its zero-copy queue (room
// was reserved before the work) or its channel, then wakes it.
void Scheduler::deliver(App& a, std::span<const Datagram> batch, size_t* delivered) {
  if (batch.empty()) return;
  if (a.channel != nullptr) {
    const size_t taken = a.channel->deliver(engine_, batch);
    for (size_t i = taken; i < batch.size(); ++i) {
      bump(a.counters.queue_full_drops);
      engine_.release(batch[i]);
    }
    *delivered += taken;
    if (taken > 0) a.channel->notify();
    return;
  }
  for (const Datagram& d : batch) {
    if (a.room() > 0 && a.queue.push(d)) {
      ++*delivered;
    } else {
      bump(a.counters.queue_full_drops);
      engine_.release(d);
    }
  }
  if (*delivered > 0) {
    const uint64_t one = 1;
    (void)!write(a.doorbell_fd, &one, sizeof(one));
  }
}

// Applications in other processes queue datagrams for transmit; the engine
// sends them, one quota per application per pass, charged like receive work.
size_t Scheduler::transmit_pass() {
  size_t total = 0;
  bool worked = false;
  for (const auto& a : apps_) {
    if (a == nullptr || a->channel == nullptr || !a->channel->transmit_pending()) continue;
    const Nanos t0 = wall_ns();
    if (!worked) attribution_.idle_until(t0);
    worked = true;
    total += a->channel->transmit(engine_, config_.quota);
    // Contiguous attribution: everything since the mark was this work.
    const Nanos end = wall_ns();
    attribution_.spent(a->id, end - attribution_.mark());
    attribution_.set_mark(end);
    picker_.charge(a->id, end - t0);
  }
  if (worked && attribution_.due(attribution_.mark())) close_window(attribution_.mark());
  return total;
}

// Weighted fair pass: repeatedly serve the ready application with the least
// virtual time, one quota per visit, until every ready application has had
// a visit or none is ready. Visits are timed in thread CPU time; the pass's
// own overhead is shared among the applications served in proportion.
size_t Scheduler::fair_pass() {
  std::array<Readiness, kMaxApps> view{};
  std::array<Nanos, kMaxApps> spent{};
  size_t n = 0;
  bool any_ready = false;
  for (const auto& a : apps_) {
    if (a == nullptr) continue;
    const size_t pending = pending_frames(*a);
    const size_t room = room_of(*a);
    if (pending > 0 && room == 0) bump(a->counters.skipped_full);
    any_ready = any_ready || (pending > 0 && room > 0);
    view[n++] = Readiness{a->id, pending, room};
    // The shed rule only needs the time while the queue is full or shed.
    const bool timed = room == 0 || a->counters.shed.load(std::memory_order_relaxed);
    const size_t bound = a->spec.queue_bound;
    update_shed(*a, timed ? clock_.now() : 0, bound - std::min(bound, room), bound);
  }
  // Nothing to do: no clock reads. The time of empty passes is attributed
  // to idle polling when the next attribution happens.
  if (!any_ready) return 0;
  const Nanos start = wall_ns();
  attribution_.idle_until(start);
  Nanos visits_wall = 0;
  Datagram batch[256];
  const size_t quota = std::min(config_.quota, std::size(batch));
  const size_t total = run_fair_pass(picker_, std::span<Readiness>(view.data(), n), quota,
                                     [&](uint32_t id, size_t budget) {
                                       App& a = *apps_[id];
                                       const Nanos t0 = wall_ns();
                                       const size_t got = visit(a, budget, {batch, budget});
                                       size_t delivered = 0;
                                       deliver(a, {batch, got}, &delivered);
                                       const Nanos cost = wall_ns() - t0;
                                       spent[id] += cost;
                                       visits_wall += cost;
                                       bump(a.counters.delivered, delivered);
                                       if (delivered > 0 && a.channel != nullptr)
                                         delivered_to_channel_ = true;
                                       a.counters.batch_size.record(got);
                                       a.counters.queue_depth.record(a.queue.size());
                                       return VisitOutcome{got, cost};
                                     });
  const Nanos end = wall_ns();
  // The pass's own overhead is shared in proportion to the visits' time.
  const Nanos overhead = std::max<Nanos>(0, end - start - visits_wall);
  for (const auto& a : apps_) {
    if (a == nullptr || spent[a->id] == 0) continue;
    attribution_.spent(a->id, spent[a->id] + overhead * spent[a->id] / visits_wall);
  }
  if (visits_wall == 0) {
    attribution_.idle_until(end);
  } else {
    attribution_.set_mark(end);
  }
  if (attribution_.due(end)) close_window(end);
  return total;
}

// BSD order, the baseline: every frame of every ring gets its protocol work
// first, at top priority; the result is dropped late if the socket's queue is
// full, after the work was spent.
size_t Scheduler::eager_pass() {
  size_t total = 0;
  Datagram batch[256];
  for (const auto& a : apps_) {
    if (a == nullptr) continue;
    if (pending_frames(*a) == 0) continue;
    if (total == 0) attribution_.idle_until(wall_ns());
    size_t got = 0;
    size_t delivered = 0;
    size_t work = 0;
    do {
      got = visit(*a, std::size(batch), batch);
      // The BSD order: the work is done whether or not there is room.
      deliver(*a, {batch, got}, &delivered);
      total += got;
      work += got;
    } while (got > 0 && total < 65536);
    if (work > 0) {
      // Contiguous attribution: everything since the last mark was this work.
      const Nanos end = wall_ns();
      attribution_.spent(a->id, end - attribution_.mark());
      attribution_.set_mark(end);
    }
    bump(a->counters.delivered, delivered);
  }
  if (total > 0 && attribution_.due(attribution_.mark())) close_window(attribution_.mark());
  return total;
}

size_t Scheduler::run_pass() {
  std::lock_guard lock(mutex_);
  engine_.reclaim_completions();
  engine_.refill();
  delivered_to_channel_ = false;
  size_t done = config_.mode == Mode::Eager ? eager_pass() : fair_pass();
  const size_t sent = transmit_pass();
  transmitted_for_channel_ = sent > 0;
  done += sent;
  bump(counters_.passes);
  if (done == 0) bump(counters_.empty_passes);
  return done;
}

// An application without room must not wake the engine: its sockets leave
// the epoll set until it reads and rings the doorbell.
void Scheduler::rearm(App& a, bool want_events) {
  if (a.armed == want_events) return;
  for (SlotId slot : a.slots) {
    epoll_event ev{};
    ev.events = want_events ? uint32_t{EPOLLIN} : 0u;
    ev.data.u64 = a.id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, engine_.socket_fd(slot), &ev);
  }
  a.armed = want_events;
}

}  // namespace lrp::sched
