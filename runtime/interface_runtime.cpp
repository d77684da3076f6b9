#include "runtime/interface_runtime.h"

#include <sched.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "runtime/queue_placement.h"
#include "sched/runtime/waiter.h"

namespace lrp::runtime {

struct InterfaceRuntime::App {
  sched::AppSpec spec;
  bool in_process = true;
  std::vector<sched::AppId> ids;  // per served queue
  std::vector<SlotId> slots;
  int ready_epoll = -1;  // several queues: their ready fds in one set
  size_t next_queue = 0;
  std::unique_ptr<sched::Waiter> waiter;  // how its receiving thread waits over the queues

  ~App() {
    if (ready_epoll >= 0) close(ready_epoll);
  }
};

// A receive over several queues, as the wait loop polls it: one look at
// every queue (run to completion: its protocol work there), asleep on the
// queues' ready fds together.
class InterfaceRuntime::GatherPoll final : public sched::Pollable {
 public:
  GatherPoll(InterfaceRuntime& r, App& a, std::span<Datagram> out) : r_(r), a_(a), out_(out) {}
  size_t poll() override { return r_.gather(a_, out_); }
  bool pure_poll() override {
    for (size_t i = 0; i < r_.schedulers_.size(); ++i)
      if (r_.schedulers_[i]->pending(a_.ids[i])) return true;
    return false;
  }
  bool try_enter_interrupt_mode() override { return !pure_poll(); }
  void exit_interrupt_mode() override {}
  int wake_fd() const override { return a_.ready_epoll; }

 private:
  InterfaceRuntime& r_;
  App& a_;
  std::span<Datagram> out_;
};

Result<std::unique_ptr<InterfaceRuntime>> InterfaceRuntime::open(const RuntimeConfig& config) {
  std::unique_ptr<InterfaceRuntime> r(new InterfaceRuntime());
  r->config_ = config;
  auto link = LinkMonitor::start(config.interface.ifname, config.program, config.on_link_change);
  if (!link) return link.error();
  r->link_ = std::move(link.value());
  auto interface = Interface::open(config.interface);
  if (!interface) return interface.error();
  r->interface_ = std::move(interface.value());
  std::vector<uint32_t> queues;
  for (size_t i = 0; i < r->interface_->queue_count(); ++i)
    queues.push_back(r->interface_->engine(i).queue());
  const std::vector<int> allowed = config.cpus.empty() ? allowed_cpus() : config.cpus;
  r->cpus_ = place_queues(config.interface.ifname, queues, allowed);
  for (size_t i = 0; i < queues.size(); ++i) {
    sched::SchedulerConfig sc = config.scheduler;
    // Run to completion: receiving threads do the work wherever they run.
    sc.engine_cpu = sc.threading == sched::Threading::Dedicated || sc.mode == sched::Mode::Eager
                        ? r->cpus_[i]
                        : -1;
    if (config.scheduler.engine_cpu >= 0 && queues.size() == 1)
      sc.engine_cpu = config.scheduler.engine_cpu;
    r->schedulers_.push_back(
        std::make_unique<sched::Scheduler>(r->interface_->engine(i), sc, r->clock_));
  }
  return r;
}

InterfaceRuntime::~InterfaceRuntime() {
  stop();
  for (AppRef ref = 0; ref < apps_.size(); ++ref)
    if (apps_[ref] != nullptr) (void)remove_app(ref);
  schedulers_.clear();
  interface_.reset();
  link_.reset();
}

Status InterfaceRuntime::start() {
  for (auto& s : schedulers_) LRP_TRY(s->start());
  return {};
}

void InterfaceRuntime::stop() {
  for (auto& s : schedulers_) s->stop();
}

InterfaceRuntime::App* InterfaceRuntime::app(AppRef ref) const {
  return ref < apps_.size() ? apps_[ref].get() : nullptr;
}

sched::AppId InterfaceRuntime::app_id(AppRef ref, size_t i) const {
  std::lock_guard lock(mutex_);
  const App* a = app(ref);
  return a == nullptr ? 0 : a->ids[i];
}

Result<AppRef> InterfaceRuntime::add_app(const sched::AppSpec& spec,
                                         const ChannelFactory& channels) {
  std::lock_guard lock(mutex_);
  auto a = std::make_unique<App>();
  a->spec = spec;
  a->in_process = !channels;
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    auto id = schedulers_[i]->add_app(spec, channels ? channels(i) : nullptr);
    if (!id) {
      for (size_t j = 0; j < a->ids.size(); ++j) (void)schedulers_[j]->remove_app(a->ids[j]);
      return id.error();
    }
    a->ids.push_back(id.value());
  }
  if (a->in_process && schedulers_.size() > 1) {
    a->ready_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (a->ready_epoll < 0) return errno_error("application '" + spec.name + "': readiness set");
    for (size_t i = 0; i < schedulers_.size(); ++i) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      if (epoll_ctl(a->ready_epoll, EPOLL_CTL_ADD, schedulers_[i]->ready_fd(a->ids[i]), &ev) != 0)
        return errno_error("application '" + spec.name + "': watch queue " + std::to_string(i));
    }
  }
  AppRef ref = 0;
  while (ref < apps_.size() && apps_[ref] != nullptr) ++ref;
  if (ref == apps_.size()) apps_.emplace_back();
  apps_[ref] = std::move(a);
  return ref;
}

Status InterfaceRuntime::remove_app(AppRef ref) {
  std::unique_ptr<App> a;
  {
    std::lock_guard lock(mutex_);
    if (app(ref) == nullptr) return make_error(EINVAL, "remove application " + std::to_string(ref));
    a = std::move(apps_[ref]);
  }
  Status result;
  // Every queue stops serving it before its sockets close.
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    Status st = schedulers_[i]->remove_app(a->ids[i]);
    if (!st.ok() && result.ok()) result = st;
  }
  for (SlotId slot : a->slots) {
    Status st = interface_->close_socket(slot);
    if (!st.ok() && result.ok()) result = st;
  }
  return result;
}

void InterfaceRuntime::flush_transmit(AppRef ref) {
  sched::AppId id = 0;
  {
    std::lock_guard lock(mutex_);
    const App* a = app(ref);
    if (a == nullptr || schedulers_.empty()) return;
    id = a->ids[0];
  }
  schedulers_[0]->flush_transmit(id);
}

Status InterfaceRuntime::set_weight(AppRef ref, uint32_t weight) {
  std::lock_guard lock(mutex_);
  App* a = app(ref);
  if (a == nullptr) return make_error(EINVAL, "set weight of application " + std::to_string(ref));
  for (size_t i = 0; i < schedulers_.size(); ++i)
    LRP_TRY(schedulers_[i]->set_weight(a->ids[i], weight));
  a->spec.weight = weight;
  return {};
}

Result<SlotId> InterfaceRuntime::add_socket(AppRef ref, const BindSpec& bind) {
  std::lock_guard lock(mutex_);
  App* a = app(ref);
  if (a == nullptr) return make_error(EINVAL, "add a socket to application " + std::to_string(ref));
  SocketOptions options;
  options.held_cap = a->spec.held_cap;
  auto slot = interface_->open_socket(bind, options);
  if (!slot) return slot.error();
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    Status st = schedulers_[i]->attach_socket(a->ids[i], slot.value());
    if (!st.ok()) {
      for (size_t j = 0; j < i; ++j) (void)schedulers_[j]->detach_socket(a->ids[j], slot.value());
      (void)interface_->close_socket(slot.value());
      return st.error();
    }
  }
  a->slots.push_back(slot.value());
  return slot;
}

Status InterfaceRuntime::remove_socket(AppRef ref, SlotId slot) {
  std::lock_guard lock(mutex_);
  App* a = app(ref);
  if (a == nullptr || std::find(a->slots.begin(), a->slots.end(), slot) == a->slots.end())
    return make_error(EINVAL, "remove socket " + std::to_string(slot) + " from application " +
                                  std::to_string(ref));
  Status result;
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    Status st = schedulers_[i]->detach_socket(a->ids[i], slot);
    if (!st.ok() && result.ok()) result = st;
  }
  a->slots.erase(std::find(a->slots.begin(), a->slots.end(), slot));
  Status st = interface_->close_socket(slot);
  return result.ok() ? st : result;
}

Status InterfaceRuntime::rebind_socket(AppRef ref, SlotId slot, const BindSpec& bind) {
  std::lock_guard lock(mutex_);
  App* a = app(ref);
  if (a == nullptr || std::find(a->slots.begin(), a->slots.end(), slot) == a->slots.end())
    return make_error(
        EINVAL, "rebind socket " + std::to_string(slot) + " of application " + std::to_string(ref));
  return interface_->rebind_socket(slot, bind);
}

Status InterfaceRuntime::join_group(SlotId slot, const IpAddress& group) {
  return interface_->join_group(slot, group);
}

Status InterfaceRuntime::leave_group(SlotId slot, const IpAddress& group) {
  return interface_->leave_group(slot, group);
}

// One look at every queue, starting after the one that served last.
size_t InterfaceRuntime::gather(App& a, std::span<Datagram> out) {
  const size_t queues = schedulers_.size();
  size_t n = 0;
  for (size_t k = 0; k < queues && n < out.size(); ++k) {
    const size_t i = (a.next_queue + k) % queues;
    n += schedulers_[i]->receive(a.ids[i], out.subspan(n), 0);
  }
  a.next_queue = (a.next_queue + 1) % queues;
  return n;
}

// One queue: its scheduler waits. Several: the application's thread waits
// over all of them through the same wait policy.
size_t InterfaceRuntime::receive(AppRef ref, std::span<Datagram> out, int timeout_ms) {
  App* a = app(ref);
  if (a == nullptr || !a->in_process || out.empty()) return 0;
  if (schedulers_.size() == 1) return schedulers_[0]->receive(a->ids[0], out, timeout_ms);
  if (a->waiter == nullptr) {
    sched::WaitConfig wait = config_.scheduler.wait;
    wait.max_sleep = sched::Nanos{std::max(config_.scheduler.sleep_timeout_ms, 1)} * 1'000'000;
    a->waiter =
        std::make_unique<sched::Waiter>(sched::wait_mode(config_.scheduler.mode), wait, clock_);
  }
  const sched::Nanos deadline =
      timeout_ms < 0 ? -1 : clock_.now() + sched::Nanos{timeout_ms} * 1'000'000;
  GatherPoll poll(*this, *a, out);
  return a->waiter->wait(poll, deadline);
}

void InterfaceRuntime::done(const Datagram& d) {
  if (Engine* e = interface_->engine_of_queue(d.queue)) e->release(d);
}

void InterfaceRuntime::done(std::span<const Datagram> datagrams) {
  if (schedulers_.size() == 1) {
    interface_->engine(0).release(datagrams);
    return;
  }
  // Runs of one queue go back together.
  size_t i = 0;
  while (i < datagrams.size()) {
    size_t j = i + 1;
    while (j < datagrams.size() && datagrams[j].queue == datagrams[i].queue) ++j;
    if (Engine* e = interface_->engine_of_queue(datagrams[i].queue))
      e->release(datagrams.subspan(i, j - i));
    i = j;
  }
}

int InterfaceRuntime::ready_fd(AppRef ref) const {
  const App* a = app(ref);
  if (a == nullptr) return -1;
  return schedulers_.size() == 1 ? schedulers_[0]->ready_fd(a->ids[0]) : a->ready_epoll;
}

size_t InterfaceRuntime::queued(AppRef ref) const {
  const App* a = app(ref);
  if (a == nullptr) return 0;
  size_t n = 0;
  for (size_t i = 0; i < schedulers_.size(); ++i) n += schedulers_[i]->queued(a->ids[i]);
  return n;
}

bool InterfaceRuntime::maybe_pending(AppRef ref) {
  App* a = app(ref);
  if (a == nullptr) return false;
  for (size_t i = 0; i < schedulers_.size(); ++i) {
    if (schedulers_[i]->queued(a->ids[i]) > 0) return true;
    for (SlotId slot : a->slots)
      if (interface_->engine(i).rx_ring_entries(slot) > 0) return true;
  }
  return false;
}

std::vector<exporters::MetricsSource> InterfaceRuntime::metrics_sources() {
  std::vector<exporters::MetricsSource> out;
  for (size_t i = 0; i < schedulers_.size(); ++i)
    out.push_back({&interface_->engine(i), schedulers_[i].get()});
  return out;
}

Engine& InterfaceRuntime::engine_for_send(SlotId slot) {
  const size_t queues = schedulers_.size();
  if (queues == 1) return interface_->engine(0);
  const int cpu = sched_getcpu();
  for (size_t i = 0; i < queues; ++i)
    if (cpus_[i] == cpu) return interface_->engine(i);
  return interface_->engine(slot % queues);
}

}  // namespace lrp::runtime
