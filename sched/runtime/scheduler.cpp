// The scheduler's core, part one: applications and their sockets, and the
// calls that go to the driver.
#include "sched/runtime/scheduler.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "sched/runtime/dedicated_driver.h"
#include "sched/runtime/rtc_driver.h"
#include "sched/runtime/scheduler_app.h"

namespace lrp::sched {

Nanos wall_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

Nanos thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

static SchedulerConfig normalised(SchedulerConfig c) {
  if (c.mode == Mode::Eager) c.threading = Threading::Dedicated;
  c.wait.max_sleep = Nanos{std::max(c.sleep_timeout_ms, 1)} * 1'000'000;
  return c;
}

Scheduler::Scheduler(Engine& engine, const SchedulerConfig& config, const Clock& clock)
    : engine_(engine),
      config_(normalised(config)),
      clock_(clock),
      picker_(),
      assist_(engine, config_.wait, static_cast<uint32_t>(config_.quota), config_.kernel_assist,
              config_.busy_poll, counters_),
      attribution_(kMaxApps) {
  attribution_.open(wall_ns(), thread_cpu_ns());
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  urgent_epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  doorbell_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = ~uint64_t{0};
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, doorbell_fd_, &ev);
  epoll_ctl(urgent_epoll_fd_, EPOLL_CTL_ADD, doorbell_fd_, &ev);
  if (config_.threading == Threading::Dedicated) {
    driver_ = std::make_unique<DedicatedDriver>(*this);
  } else {
    driver_ = std::make_unique<RunToCompletionDriver>(*this);
  }
}

Scheduler::~Scheduler() {
  stop();
  for (AppId id = 0; id < kMaxApps; ++id)
    if (apps_[id] != nullptr) (void)remove_app(id);
  driver_.reset();
  close(epoll_fd_);
  close(urgent_epoll_fd_);
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
  assist_.apply_epoll(a->rtc_epoll_fd);
  a->channel = std::move(channel);
  if (a->channel != nullptr && a->channel->wake_fd() >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kChannelWake | id;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, a->channel->wake_fd(), &ev) != 0)
      return errno_error("application '" + spec.name + "': watch its channel");
    if (epoll_ctl(urgent_epoll_fd_, EPOLL_CTL_ADD, a->channel->wake_fd(), &ev) != 0) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, a->channel->wake_fd(), nullptr);
      return errno_error("application '" + spec.name + "': watch its channel");
    }
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
  if (a->channel != nullptr && a->channel->wake_fd() >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, a->channel->wake_fd(), nullptr);
    epoll_ctl(urgent_epoll_fd_, EPOLL_CTL_DEL, a->channel->wake_fd(), nullptr);
  }
  bump(a->counters.charged_ns, static_cast<uint64_t>(a->rtc_charge.pending()));
  attribution_.forget(id);
  picker_.remove(id);
  apps_[id].reset();
  return {};
}

void Scheduler::flush_transmit(AppId id) {
  // Bounded by the channel's ring: a pass drains at most what it holds.
  constexpr size_t kBudget = size_t{1} << 16;
  std::lock_guard lock(mutex_);
  App* a = app(id);
  if (a != nullptr && a->channel != nullptr && a->channel->transmit_pending())
    (void)a->channel->transmit(engine_, kBudget);
}

Status Scheduler::attach_socket(AppId id, SlotId slot) {
  std::lock_guard lock(mutex_);
  App* a = app(id);
  if (a == nullptr) return make_error(EINVAL, "add socket to application " + std::to_string(id));
  if (!engine_.slot_open(slot))
    return make_error(EBADF, "add socket " + std::to_string(slot) + " to application " +
                                 std::to_string(id) + ": not open on the engine");
  const int fd = engine_.socket_fd(slot);
  // The queue's NAPI, once: the kernel's help applies from the start when
  // the device names it.
  if (assist_.probe_queue()) settle_kernel_assist();
  LRP_TRY(assist_.apply_socket(slot));
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
  if (!assist_.settled()) a->first_packet_pending.push_back(slot);
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
  std::erase(a->first_packet_pending, slot);
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

Status Scheduler::start() {
  return driver_->start();
}

void Scheduler::stop() {
  if (driver_ != nullptr) driver_->stop();
}

size_t Scheduler::receive(AppId id, std::span<Datagram> out, int timeout_ms) {
  App* a = app(id);
  if (a == nullptr || out.empty()) return 0;
  return driver_->receive(*a, out, timeout_ms);
}

int Scheduler::ready_fd(AppId id) const {
  const App* a = app(id);
  return a == nullptr ? -1 : driver_->ready_fd(*a);
}

size_t Scheduler::queued(AppId id) const {
  const App* a = app(id);
  return a == nullptr ? 0 : a->queue.size();
}

bool Scheduler::pending(AppId id) const {
  const App* a = app(id);
  if (a == nullptr) return false;
  if (a->queue.size() > 0) return true;
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  for (SlotId slot : a->slots)
    if (engine_.rx_ring_entries(slot) > 0) return true;
  return false;
}

void Scheduler::ring_doorbell() {
  const uint64_t one = 1;
  (void)!write(doorbell_fd_, &one, sizeof(one));
}

}  // namespace lrp::sched
