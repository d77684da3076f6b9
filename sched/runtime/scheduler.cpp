#include "sched/runtime/scheduler.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>

namespace lrp::sched {

const char* to_string(Mode mode) {
  switch (mode) {
    case Mode::Interrupt:
      return "interrupt";
    case Mode::Poll:
      return "poll";
    case Mode::Adaptive:
      return "adaptive";
    case Mode::Eager:
      return "eager";
  }
  return "unknown";
}

const char* to_string(Threading t) {
  return t == Threading::RunToCompletion ? "rtc" : "dedicated";
}

Result<Mode> parse_mode(const std::string& text) {
  for (Mode m : {Mode::Interrupt, Mode::Poll, Mode::Adaptive, Mode::Eager})
    if (text == to_string(m)) return m;
  return make_error(EINVAL, "mode '" + text + "' is not one of adaptive, interrupt, poll, eager");
}

Result<Threading> parse_threading(const std::string& text) {
  if (text == "rtc") return Threading::RunToCompletion;
  if (text == "dedicated") return Threading::Dedicated;
  return make_error(EINVAL, "threading '" + text + "' is not rtc or dedicated");
}

static EngineMode engine_mode(Mode mode) {
  switch (mode) {
    case Mode::Interrupt:
      return EngineMode::Interrupt;
    case Mode::Poll:
      return EngineMode::Poll;
    case Mode::Adaptive:
      return EngineMode::Adaptive;
    case Mode::Eager:
      // The BSD order is interrupt driven: work when frames arrive, sleep
      // as soon as the rings are empty.
      return EngineMode::Interrupt;
  }
  return EngineMode::Adaptive;
}

// CPU time of the calling thread: a system call.
static Nanos thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// Times visits: a vDSO read. Real time even when tests drive the policy
// clock by hand, because it measures real CPU cost.
static Nanos wall_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

struct Scheduler::App {
  AppId id = 0;
  AppSpec spec;
  std::vector<SlotId> slots;
  size_t next_socket = 0;  // round-robin among the application's sockets
  SpscRing<Datagram> queue;
  int doorbell_fd = -1;   // dedicated: readable when datagrams are queued
  int rtc_epoll_fd = -1;  // rtc: readable when one of its sockets has frames
  bool armed = true;      // its sockets are in the engine's epoll set
  ShedController shed;
  AppCounters counters;
  std::atomic<bool> was_full{false};
  ModeController rtc_mode;           // run to completion: this application's own sleep/poll state
  CappedAttribution rtc_charge;      // run to completion: the receiving thread's visits
  const void* rtc_thread = nullptr;  // whose CPU clock rtc_charge's window is on
  std::unique_ptr<AppChannel> channel;  // an application in another process

  App(AppId id_, const AppSpec& s, const SchedulerConfig& config)
      : id(id_),
        spec(s),
        queue(std::bit_ceil(std::max<uint32_t>(s.queue_bound, 2))),
        shed(config.shed),
        rtc_mode(engine_mode(config.mode), config.adaptive) {}
  ~App() {
    if (doorbell_fd >= 0) close(doorbell_fd);
    if (rtc_epoll_fd >= 0) close(rtc_epoll_fd);
  }
  size_t room() const {
    const size_t used = queue.size();
    return used >= spec.queue_bound ? 0 : spec.queue_bound - used;
  }
};

Scheduler::Scheduler(Engine& engine, const SchedulerConfig& config, const Clock& clock)
    : engine_(engine),
      config_(config),
      clock_(clock),
      picker_(),
      mode_(engine_mode(config.mode), config.adaptive),
      attribution_(kMaxApps) {
  attribution_.open(wall_ns(), thread_cpu_ns());
  if (config_.mode == Mode::Eager) config_.threading = Threading::Dedicated;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  doorbell_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = ~uint64_t{0};
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, doorbell_fd_, &ev);
}

Scheduler::~Scheduler() {
  stop();
  for (AppId id = 0; id < kMaxApps; ++id)
    if (apps_[id] != nullptr) (void)remove_app(id);
  close(epoll_fd_);
  close(doorbell_fd_);
}

Scheduler::App* Scheduler::app(AppId id) const {
  return id < kMaxApps ? apps_[id].get() : nullptr;
}

const AppCounters& Scheduler::app_counters(AppId id) const {
  return app(id)->counters;
}

std::vector<AppInfo> Scheduler::apps() const {
  std::lock_guard lock(mutex_);
  std::vector<AppInfo> out;
  for (const auto& a : apps_)
    if (a != nullptr) out.push_back(AppInfo{a->id, a->spec.name, a->spec.weight, a->slots});
  return out;
}

Result<AppId> Scheduler::add_app(const AppSpec& spec, std::unique_ptr<AppChannel> channel) {
  if (spec.weight == 0) return make_error(EINVAL, "application '" + spec.name + "': weight 0");
  if (channel != nullptr && config_.threading != Threading::Dedicated)
    return make_error(EINVAL, "application '" + spec.name +
                                  "': an application in another process needs dedicated threading");
  if (spec.queue_bound == 0)
    return make_error(EINVAL, "application '" + spec.name + "': receive queue bound 0");
  std::lock_guard lock(mutex_);
  AppId id = 0;
  while (id < kMaxApps && apps_[id] != nullptr) ++id;
  if (id == kMaxApps)
    return make_error(EMFILE, "application '" + spec.name + "': all " + std::to_string(kMaxApps) +
                                  " application slots in use");
  auto a = std::make_unique<App>(id, spec, config_);
  a->doorbell_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  a->rtc_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (a->doorbell_fd < 0 || a->rtc_epoll_fd < 0)
    return errno_error("application '" + spec.name + "': create its doorbell");
  a->channel = std::move(channel);
  if (a->channel != nullptr && a->channel->wake_fd() >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = ~uint64_t{0};  // like the doorbell: a reason to run a pass
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, a->channel->wake_fd(), &ev) != 0)
      return errno_error("application '" + spec.name + "': watch its channel");
  }
  picker_.add(id, spec.weight, clock_.now());
  apps_[id] = std::move(a);
  return id;
}

Status Scheduler::remove_app(AppId id) {
  std::lock_guard lock(mutex_);
  App* a = app(id);
  if (a == nullptr) return make_error(EINVAL, "remove application " + std::to_string(id));
  // Datagrams delivered but never read go back to the pool.
  Datagram d;
  while (a->queue.pop(&d)) engine_.release(d);
  for (SlotId slot : a->slots) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, engine_.socket_fd(slot), nullptr);
    (void)engine_.shed(slot, false);
  }
  if (a->channel != nullptr && a->channel->wake_fd() >= 0)
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, a->channel->wake_fd(), nullptr);
  bump(a->counters.charged_ns, static_cast<uint64_t>(a->rtc_charge.pending()));
  attribution_.forget(id);
  picker_.remove(id);
  apps_[id].reset();
  return {};
}

Status Scheduler::attach_socket(AppId id, SlotId slot) {
  std::lock_guard lock(mutex_);
  App* a = app(id);
  if (a == nullptr) return make_error(EINVAL, "add socket to application " + std::to_string(id));
  if (!engine_.slot_open(slot))
    return make_error(EBADF, "add socket " + std::to_string(slot) + " to application " +
                                 std::to_string(id) + ": not open on the engine");
  const int fd = engine_.socket_fd(slot);
  if (config_.busy_poll)
    LRP_TRY(engine_.enable_busy_poll(slot, static_cast<uint32_t>(config_.quota)));
  epoll_event ev{};
  ev.events = a->armed ? uint32_t{EPOLLIN} : 0u;
  ev.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    return errno_error("add socket " + std::to_string(slot) + " to the engine's wait set");
  ev.events = EPOLLIN;
  if (epoll_ctl(a->rtc_epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    return errno_error("add socket " + std::to_string(slot) + " to its application's wait set");
  }
  a->slots.push_back(slot);
  return {};
}

Status Scheduler::set_weight(AppId id, uint32_t weight) {
  if (weight == 0) return make_error(EINVAL, "application " + std::to_string(id) + ": weight 0");
  std::lock_guard lock(mutex_);
  App* a = app(id);
  if (a == nullptr) return make_error(EINVAL, "set weight of application " + std::to_string(id));
  a->spec.weight = weight;
  picker_.set_weight(id, weight);
  return {};
}

Status Scheduler::detach_socket(AppId id, SlotId slot) {
  std::lock_guard lock(mutex_);
  App* a = app(id);
  if (a == nullptr || std::find(a->slots.begin(), a->slots.end(), slot) == a->slots.end())
    return make_error(EINVAL, "remove socket " + std::to_string(slot) + " from application " +
                                  std::to_string(id));
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, engine_.socket_fd(slot), nullptr);
  epoll_ctl(a->rtc_epoll_fd, EPOLL_CTL_DEL, engine_.socket_fd(slot), nullptr);
  a->slots.erase(std::find(a->slots.begin(), a->slots.end(), slot));
  // Datagrams of the socket still queued for the application go back with
  // it; the others stay, in order. The engine, the queue's producer, is
  // held off by the lock; the caller is its consumer (no receive under way).
  std::vector<Datagram> kept;
  Datagram d;
  while (a->queue.pop(&d)) {
    if (d.slot == slot) {
      engine_.release(d);
    } else {
      kept.push_back(d);
    }
  }
  for (const Datagram& k : kept) a->queue.push(k);
  (void)engine_.shed(slot, false);
  return {};
}

int Scheduler::ready_fd(AppId id) const {
  const App* a = app(id);
  if (a == nullptr) return -1;
  return config_.threading == Threading::Dedicated ? a->doorbell_fd : a->rtc_epoll_fd;
}

size_t Scheduler::queued(AppId id) const {
  const App* a = app(id);
  return a == nullptr ? 0 : a->queue.size();
}

// Kernel busy polling: a receive call on the socket runs the device's NAPI
// poll here, in the polling thread, instead of waiting for its interrupt.
// Devices without NAPI ids cannot do it; that is reported once, not hidden.
void Scheduler::drive_busy_poll(App& a) {
  if (!config_.busy_poll) return;
  for (SlotId slot : a.slots) {
    engine_.busy_poll(slot);
    counters_.busy_poll_calls.fetch_add(1, std::memory_order_relaxed);
    if (!counters_.busy_poll_unavailable.load(std::memory_order_relaxed) &&
        engine_.counters(slot).delivered.load(std::memory_order_relaxed) > 0) {
      auto id = engine_.napi_id(slot);
      if (id.ok() && id.value() == 0 &&
          !counters_.busy_poll_unavailable.exchange(true, std::memory_order_relaxed))
        std::fprintf(stderr,
                     "lrp: busy polling requested but %s reports no NAPI id: the kernel "
                     "cannot busy-poll it; polling the rings only\n",
                     engine_.config().ifname.c_str());
    }
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
  return delivered;
}

void Scheduler::update_shed(App& a, Nanos now, size_t used, size_t bound) {
  const ShedDecision d = a.shed.update(now, used, bound);
  if (!d.changed) return;
  for (SlotId slot : a.slots) (void)engine_.shed(slot, d.shed);
  a.counters.shed.store(d.shed, std::memory_order_relaxed);
  bump(d.shed ? a.counters.shed_raised : a.counters.shed_lowered);
}

size_t Scheduler::room_of(const App& a) const {
  if (a.channel == nullptr) return a.room();
  return std::min<size_t>(a.channel->room(), a.spec.queue_bound);
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
    size_t pending = 0;
    for (SlotId slot : a->slots) pending += engine_.rx_pending(slot);
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

// Splits the thread CPU of the window among the applications and idle.
void Scheduler::close_window(Nanos wall) {
  const Nanos cpu = thread_cpu_ns();
  attribution_.close(wall, cpu);
  for (const auto& a : apps_)
    if (a != nullptr)
      bump(a->counters.charged_ns, static_cast<uint64_t>(attribution_.charged(a->id)));
  bump(counters_.idle_poll_ns, static_cast<uint64_t>(attribution_.idle()));
  engine_cpu_ns_.store(cpu, std::memory_order_relaxed);
}

// BSD order, the baseline: every frame of every ring gets its protocol work
// first, at top priority; the result is dropped late if the socket's queue is
// full, after the work was spent.
size_t Scheduler::eager_pass() {
  size_t total = 0;
  Datagram batch[256];
  for (const auto& a : apps_) {
    if (a == nullptr) continue;
    size_t pending = 0;
    for (SlotId slot : a->slots) pending += engine_.rx_pending(slot);
    if (pending == 0) continue;
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
  size_t done = config_.mode == Mode::Eager ? eager_pass() : fair_pass();
  done += transmit_pass();
  bump(counters_.passes);
  if (done == 0) bump(counters_.empty_passes);
  const bool polling_before = mode_.polling();
  mode_.on_pass(mode_.needs_time() || done > 0 ? clock_.now() : 0, done);
  note_mode(polling_before);
  return done;
}

void Scheduler::note_mode(bool polling_before) {
  const bool polling = mode_.polling();
  if (polling != polling_before)
    bump(polling ? counters_.switches_to_poll : counters_.switches_to_interrupt);
  counters_.polling.store(polling, std::memory_order_relaxed);
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

void Scheduler::sleep_until_work() {
  {
    std::lock_guard lock(mutex_);
    for (const auto& a : apps_) {
      if (a == nullptr) continue;
      const bool has_room = room_of(*a) > 0;
      a->was_full.store(!has_room, std::memory_order_release);
      // Eager has no feedback: a full application still interrupts it.
      rearm(*a, has_room || config_.mode == Mode::Eager);
    }
  }
  bump(counters_.sleeps);
  epoll_event events[64];
  const int n = epoll_wait(epoll_fd_, events, 64, config_.sleep_timeout_ms);
  if (n > 0) {
    uint64_t value;
    (void)!read(doorbell_fd_, &value, sizeof(value));
    bump(counters_.wakeups);
    const bool polling_before = mode_.polling();
    mode_.on_wakeup(clock_.now());
    note_mode(polling_before);
  }
}

void Scheduler::engine_loop() {
  if (config_.engine_cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(config_.engine_cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  // Every stretch of the thread's CPU time from here on is attributed to an
  // application, to idle polling or to sleeping: the intervals are contiguous.
  {
    std::lock_guard lock(mutex_);
    attribution_.open(wall_ns(), thread_cpu_ns());
  }
  while (running_.load(std::memory_order_relaxed)) {
    run_pass();
    if (mode_.should_sleep()) {
      {
        std::lock_guard lock(mutex_);
        close_window(wall_ns());
      }
      sleep_until_work();
      std::lock_guard lock(mutex_);
      const Nanos cpu = thread_cpu_ns();
      bump(counters_.sleep_ns,
           static_cast<uint64_t>(attribution_.reopen_after_sleep(wall_ns(), cpu)));
      engine_cpu_ns_.store(cpu, std::memory_order_relaxed);
    }
  }
  std::lock_guard lock(mutex_);
  close_window(wall_ns());
}

Status Scheduler::start() {
  if (running_.exchange(true)) return {};
  if (config_.threading == Threading::Dedicated) {
    thread_ = std::thread([this] { engine_loop(); });
    if (config_.engine_rt_priority > 0) {
      sched_param param{};
      param.sched_priority = config_.engine_rt_priority;
      if (int err = pthread_setschedparam(thread_.native_handle(), SCHED_FIFO, &param); err != 0) {
        stop();
        return make_error(err, "setting the engine thread to SCHED_FIFO priority " +
                                   std::to_string(config_.engine_rt_priority));
      }
    }
  } else {
    thread_ = std::thread([this] { warden_loop(); });
  }
  return {};
}

// Run to completion has no engine thread watching the applications: an
// application that stops receiving leaves its frames in its rings, where
// nobody works on them. The warden applies the shed rule to those rings
// every few milliseconds while any ring holds frames, and otherwise sleeps
// on the sockets (the engine's epoll set, unused in this threading), so an
// idle server stays idle. It does no protocol work.
void Scheduler::warden_loop() {
  const int period_ms =
      static_cast<int>(std::clamp<Nanos>(config_.shed.raise_after / 2'000'000, 1, 50));
  const size_t ring = engine_.config().rx_size;
  while (running_.load(std::memory_order_relaxed)) {
    bool watching = false;
    {
      std::lock_guard lock(mutex_);
      const Nanos now = clock_.now();
      for (const auto& a : apps_) {
        if (a == nullptr) continue;
        size_t fullest = 0;
        for (SlotId slot : a->slots) fullest = std::max(fullest, engine_.rx_pending(slot));
        update_shed(*a, now, fullest, std::min<size_t>(a->spec.queue_bound, ring));
        watching = watching || fullest > 0 || a->counters.shed.load(std::memory_order_relaxed);
      }
    }
    if (watching) {
      pollfd pfd{doorbell_fd_, POLLIN, 0};
      poll(&pfd, 1, period_ms);
    } else {
      epoll_event events[8];
      epoll_wait(epoll_fd_, events, 8, config_.sleep_timeout_ms * 10);
    }
    uint64_t value;
    (void)!read(doorbell_fd_, &value, sizeof(value));
  }
}

void Scheduler::stop() {
  if (!running_.exchange(false)) return;
  const uint64_t one = 1;
  (void)!write(doorbell_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

size_t Scheduler::receive(AppId id, std::span<Datagram> out, int timeout_ms) {
  App* a = app(id);
  if (a == nullptr || out.empty()) return 0;
  if (config_.threading == Threading::Dedicated) return receive_queued(*a, out, timeout_ms);
  return receive_rtc(*a, out, timeout_ms);
}

size_t Scheduler::receive_queued(App& a, std::span<Datagram> out, int timeout_ms) {
  const Nanos deadline = clock_.now() + Nanos{timeout_ms} * 1'000'000;
  for (;;) {
    size_t n = 0;
    while (n < out.size() && a.queue.pop(&out[n])) ++n;
    if (n > 0) {
      uint64_t value;
      (void)!read(a.doorbell_fd, &value, sizeof(value));
      // Level-triggered for the caller's epoll: readable while datagrams remain.
      if (a.queue.size() > 0) {
        const uint64_t one = 1;
        (void)!write(a.doorbell_fd, &one, sizeof(one));
      }
      // The engine stopped polling this application while it was full.
      if (a.was_full.exchange(false, std::memory_order_acq_rel)) {
        const uint64_t one = 1;
        (void)!write(doorbell_fd_, &one, sizeof(one));
      }
      return n;
    }
    if (timeout_ms == 0) return 0;
    const Nanos now = clock_.now();
    if (timeout_ms > 0 && now >= deadline) return 0;
    pollfd pfd{a.doorbell_fd, POLLIN, 0};
    const int wait_ms = timeout_ms < 0 ? 100 : static_cast<int>((deadline - now) / 1'000'000) + 1;
    poll(&pfd, 1, wait_ms);
  }
}

// Run to completion: the receiving thread does its own application's
// protocol work, so the work happens in the receiver's context and only when
// it asks for results.
size_t Scheduler::receive_rtc(App& a, std::span<Datagram> out, int timeout_ms) {
  const bool timed_wait = timeout_ms > 0;
  const Nanos deadline = timed_wait ? clock_.now() + Nanos{timeout_ms} * 1'000'000 : 0;
  ModeController& mode = a.rtc_mode;
  for (uint64_t spins = 0;; ++spins) {
    size_t got = 0;
    {
      std::lock_guard lock(mutex_);
      size_t pending = 0;
      for (SlotId slot : a.slots) pending += engine_.rx_pending(slot);
      // Only work is timed: an empty poll costs a few loads, no clock reads.
      if (pending > 0) {
        const Nanos w0 = wall_ns();
        got = visit(a, std::min(out.size(), config_.quota), out);
        charge_rtc(a, w0, wall_ns());
        bump(a.counters.delivered, got);
        if (got > 0) a.counters.batch_size.record(got);
      } else if (config_.busy_poll) {
        drive_busy_poll(a);
      }
    }
    // Several receiving threads share the engine counters: atomic adds here.
    counters_.passes.fetch_add(1, std::memory_order_relaxed);
    if (got == 0) counters_.empty_passes.fetch_add(1, std::memory_order_relaxed);
    const bool polling_before = mode.polling();
    const bool need_now = got > 0 || mode.needs_time() || (timed_wait && spins % 64 == 0);
    const Nanos now = need_now ? clock_.now() : 0;
    mode.on_pass(now, got);
    if (mode.polling() != polling_before) {
      (mode.polling() ? counters_.switches_to_poll : counters_.switches_to_interrupt)
          .fetch_add(1, std::memory_order_relaxed);
      counters_.polling.store(mode.polling(), std::memory_order_relaxed);
    }
    if (got > 0) return got;
    if (timeout_ms == 0) return 0;
    if (timed_wait && need_now && now >= deadline) return 0;
    // An empty poll gives the core to any other runnable thread at once:
    // another application's poller on the same core would otherwise make
    // this one's next datagram wait for the rest of its time slice.
    if (mode.polling()) sched_yield();
    if (mode.should_sleep()) {
      const Nanos t = timed_wait ? clock_.now() : 0;
      if (timed_wait && t >= deadline) return 0;
      const int wait_ms =
          timed_wait ? static_cast<int>((deadline - t) / 1'000'000) + 1 : config_.sleep_timeout_ms;
      counters_.sleeps.fetch_add(1, std::memory_order_relaxed);
      flush_rtc_charge(a);
      epoll_event ev;
      if (epoll_wait(a.rtc_epoll_fd, &ev, 1, wait_ms) > 0) {
        counters_.wakeups.fetch_add(1, std::memory_order_relaxed);
        const bool was_polling = mode.polling();
        mode.on_wakeup(clock_.now());
        if (mode.polling() != was_polling) {
          counters_.switches_to_poll.fetch_add(1, std::memory_order_relaxed);
          counters_.polling.store(true, std::memory_order_relaxed);
        }
      }
    }
  }
}

// Identifies the calling thread without a system call.
static thread_local const char this_thread = 0;

// Run to completion: visits are timed on the monotonic clock and the window's
// charge capped by the CPU the receiving thread really had (one system call
// per window instead of two per visit).
void Scheduler::charge_rtc(App& a, Nanos start, Nanos end) {
  if (a.rtc_thread != &this_thread) {
    // A different thread's CPU clock: what was pending is charged as timed,
    // and a window on this thread's clock starts after this visit.
    bump(a.counters.charged_ns, static_cast<uint64_t>(a.rtc_charge.pending() + (end - start)));
    a.rtc_thread = &this_thread;
    a.rtc_charge.open(end, thread_cpu_ns());
    return;
  }
  a.rtc_charge.spent(end - start);
  if (a.rtc_charge.due(end))
    bump(a.counters.charged_ns, static_cast<uint64_t>(a.rtc_charge.close(end, thread_cpu_ns())));
}

// Before the receiving thread sleeps, so the charge is current while it waits.
void Scheduler::flush_rtc_charge(App& a) {
  std::lock_guard lock(mutex_);
  if (a.rtc_thread != &this_thread || a.rtc_charge.pending() == 0) return;
  bump(a.counters.charged_ns,
       static_cast<uint64_t>(a.rtc_charge.close(wall_ns(), thread_cpu_ns())));
}

}  // namespace lrp::sched
