#include "service/daemon/engine_backend.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>

#include "lrp/netdev.h"
#include "service/shm/doorbell.h"

namespace lrp::service {

namespace {

constexpr size_t kBatch = 64;
constexpr size_t kTxBudget = 256;
constexpr size_t kMaxDeferred = 1024;
constexpr int64_t kDeferredLifeNs = 1'000'000'000;
constexpr int64_t kAddressRefreshNs = 1'000'000'000;

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

uint64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

BackendSocket make_handle(uint32_t iface, SlotId slot) {
  return (uint64_t{iface} << 32) | slot;
}
uint32_t handle_iface(BackendSocket h) {
  return static_cast<uint32_t>(h >> 32);
}
SlotId handle_slot(BackendSocket h) {
  return static_cast<SlotId>(h & 0xffff);
}

EngineModeCode mode_code(sched::Mode m) {
  switch (m) {
    case sched::Mode::Interrupt:
      return EngineModeCode::Interrupt;
    case sched::Mode::Poll:
      return EngineModeCode::Poll;
    case sched::Mode::Eager:
      return EngineModeCode::Eager;
    case sched::Mode::Adaptive:
      break;
  }
  return EngineModeCode::Adaptive;
}

// Epoll keys: what woke the delivery thread.
constexpr uint64_t kWakeKey = ~uint64_t{0};
uint64_t sched_key(BackendApp app) {
  return uint64_t{app} << 1;
}
uint64_t port_key(BackendApp app) {
  return (uint64_t{app} << 1) | 1;
}

}  // namespace

// A datagram the device could not take yet (TX ring full, next hop still
// being resolved): kept and retried for a while instead of lost.
struct Deferred {
  BackendSocket socket = 0;
  Endpoint to;
  std::vector<uint8_t> payload;
  std::optional<IpAddress> from;
  int64_t since = 0;
};

struct EngineBackend::Iface {
  uint32_t index = 0;
  std::string name;
  uint32_t ifindex = 0;
  uint32_t mtu = 0;
  int cpu = -1;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<LinkMonitor> link;
  std::unique_ptr<sched::Scheduler> scheduler;
  // Held by a delivery pass, and by every change to this interface's
  // applications and sockets (so no change happens under a pass).
  std::mutex pump_mutex;
  // Sends on this engine, from whichever delivery thread (a leaf lock).
  std::mutex send_mutex;
  std::array<uint32_t, LRP_MAX_SLOTS> tags{};  // slot -> lrpd socket id
  std::map<BackendApp, bool> sched_armed;      // its scheduler fd is in the epoll set
  std::deque<Deferred> deferred;               // pump thread only
  uint64_t deferred_dropped = 0;
  UniqueFd epoll;
  UniqueFd wake;
  std::thread thread;
  mutable std::mutex address_mutex;
  std::vector<IpAddress> addresses;
  int64_t addresses_at = 0;

  bool has_address(const IpAddress& a) {
    std::lock_guard lock(address_mutex);
    const int64_t now = monotonic_ns();
    if (now - addresses_at > kAddressRefreshNs) {
      if (auto info = query_interface(name)) addresses = info->addresses;
      addresses_at = now;
    }
    return std::find(addresses.begin(), addresses.end(), a) != addresses.end();
  }
  void poke() {
    const uint64_t one = 1;
    (void)!write(wake.get(), &one, sizeof(one));
  }
};

struct EngineBackend::AppSlot {
  BackendApp id = 0;
  AppPort* port = nullptr;
  BackendAppSpec spec;
  std::vector<sched::AppId> sched_ids;  // per interface
  bool doorbell_closed = false;         // every process closed its end: stop polling it
};

// TxOut for one delivery thread: sends on any interface's engine, keeps
// what the device cannot take yet, and flushes what it touched.
class EngineBackend::Sender : public TxOut {
 public:
  Sender(EngineBackend& b, Iface& home) : b_(b), home_(home) {}

  Status send(BackendSocket socket, const Endpoint& to, std::span<const uint8_t> payload,
              const IpAddress* from) override {
    Status st = try_send(socket, to, payload, from);
    if (st.ok() || st.error().code != EAGAIN) return st;
    if (home_.deferred.size() >= kMaxDeferred) {
      ++home_.deferred_dropped;
      return st;
    }
    Deferred d{socket, to, {payload.begin(), payload.end()}, {}, monotonic_ns()};
    if (from != nullptr) d.from = *from;
    home_.deferred.push_back(std::move(d));
    return {};
  }
  bool is_local(uint32_t iface, const IpAddress& addr) override {
    return iface < b_.ifaces_.size() && b_.ifaces_[iface]->has_address(addr);
  }
  uint32_t route(const IpAddress& dst) override {
    if (b_.ifaces_.size() == 1) return 0;
    // The kernel's choice: the source address it would use, then whose it is.
    UniqueFd probe(socket(dst.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss{};
    const socklen_t len = dst.to_sockaddr(9, &ss);
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0) {
      sockaddr_storage local{};
      socklen_t llen = sizeof(local);
      if (getsockname(probe.get(), reinterpret_cast<sockaddr*>(&local), &llen) == 0)
        if (auto a = IpAddress::from_sockaddr(local))
          for (uint32_t i = 0; i < b_.ifaces_.size(); ++i)
            if (b_.ifaces_[i]->has_address(a.value())) return i;
    }
    return 0;
  }

  // Retries what was deferred, oldest first; drops what waited too long.
  size_t retry_deferred() {
    size_t sent = 0;
    const int64_t now = monotonic_ns();
    while (!home_.deferred.empty()) {
      Deferred& d = home_.deferred.front();
      Status st = try_send(d.socket, d.to, d.payload, d.from ? &*d.from : nullptr);
      if (!st.ok() && st.error().code == EAGAIN && now - d.since < kDeferredLifeNs) break;
      if (!st.ok()) ++home_.deferred_dropped;
      sent += st.ok();
      home_.deferred.pop_front();
    }
    return sent;
  }
  void flush_all() {
    for (const auto& [f, slot] : touched_) {
      std::lock_guard lock(f->send_mutex);
      if (f->engine->slot_open(slot)) (void)f->engine->flush(slot);
    }
    touched_.clear();
  }

 private:
  Status try_send(BackendSocket socket, const Endpoint& to, std::span<const uint8_t> payload,
                  const IpAddress* from) {
    const uint32_t i = handle_iface(socket);
    if (i >= b_.ifaces_.size()) return make_error(EBADF, "send on an unknown interface");
    Iface& f = *b_.ifaces_[i];
    const SlotId slot = handle_slot(socket);
    std::lock_guard lock(f.send_mutex);
    if (!f.engine->slot_open(slot)) return make_error(EBADF, "send on a closed socket");
    Status st = f.engine->send(slot, to, payload, from);
    if (!st.ok() && st.error().code == EAGAIN) {
      (void)f.engine->flush(slot);
      st = f.engine->send(slot, to, payload, from);
    }
    if (st.ok() &&
        std::find(touched_.begin(), touched_.end(), std::pair{&f, slot}) == touched_.end())
      touched_.emplace_back(&f, slot);
    return st;
  }

  EngineBackend& b_;
  Iface& home_;
  std::vector<std::pair<Iface*, SlotId>> touched_;
};

Result<std::unique_ptr<EngineBackend>> EngineBackend::open(const EngineBackendConfig& config) {
  if (config.interfaces.empty()) return make_error(EINVAL, "no interface to serve");
  std::unique_ptr<EngineBackend> b(new EngineBackend());
  b->config_ = config;
  for (size_t i = 0; i < config.interfaces.size(); ++i) {
    auto f = std::make_unique<Iface>();
    f->index = static_cast<uint32_t>(i);
    f->name = config.interfaces[i];
    f->cpu = config.cpus.empty() ? -1 : config.cpus[i % config.cpus.size()];
    EngineConfig ec;
    ec.ifname = f->name;
    ec.xdp_mode = config.xdp_mode;
    auto engine = Engine::open(ec);
    if (!engine) return engine.error();
    f->engine = std::move(engine.value());
    auto info = query_interface(f->name);
    if (!info) return info.error();
    f->ifindex = static_cast<uint32_t>(info->ifindex);
    f->mtu = info->mtu;
    f->addresses = info->addresses;
    f->addresses_at = monotonic_ns();
    auto link = LinkMonitor::start(f->name, "lrpd", LinkMonitor::stop_on_delete());
    if (!link) return link.error();
    f->link = std::move(link.value());
    sched::SchedulerConfig sc;
    sc.mode = config.mode;
    sc.threading = sched::Threading::Dedicated;
    sc.engine_cpu = f->cpu;
    f->scheduler = std::make_unique<sched::Scheduler>(*f->engine, sc, b->clock_);
    f->epoll.reset(epoll_create1(EPOLL_CLOEXEC));
    f->wake.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!f->epoll || !f->wake) return errno_error("create the delivery thread's epoll");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeKey;
    epoll_ctl(f->epoll.get(), EPOLL_CTL_ADD, f->wake.get(), &ev);
    b->ifaces_.push_back(std::move(f));
  }
  return b;
}

EngineBackend::~EngineBackend() {
  stop();
  std::vector<BackendApp> ids;
  {
    std::lock_guard lock(apps_mutex_);
    for (const auto& a : apps_) ids.push_back(a->id);
  }
  for (BackendApp id : ids) (void)remove_app(id);
}

std::vector<ServedInterface> EngineBackend::interfaces() const {
  std::vector<ServedInterface> out;
  for (const auto& f : ifaces_) {
    std::lock_guard lock(f->address_mutex);
    out.push_back(ServedInterface{f->name, f->ifindex, f->mtu, f->addresses});
  }
  return out;
}

Status EngineBackend::start() {
  if (running_.exchange(true)) return {};
  for (auto& f : ifaces_) {
    LRP_TRY(f->scheduler->start());
    f->thread = std::thread([this, fp = f.get()] { pump(*fp); });
  }
  return {};
}

void EngineBackend::stop() {
  if (!running_.exchange(false)) return;
  for (auto& f : ifaces_) {
    f->poke();
    if (f->thread.joinable()) f->thread.join();
    f->scheduler->stop();
  }
}

Result<BackendApp> EngineBackend::add_app(const BackendAppSpec& spec, AppPort& port) {
  auto a = std::make_unique<AppSlot>();
  a->port = &port;
  a->spec = spec;
  std::vector<std::unique_lock<std::mutex>> locks;
  for (auto& f : ifaces_) locks.emplace_back(f->pump_mutex);
  std::lock_guard lock(apps_mutex_);
  a->id = next_app_++;
  for (auto& f : ifaces_) {
    sched::AppSpec s;
    s.name = spec.name + "#" + std::to_string(a->id);
    s.weight = spec.weight;
    s.queue_bound = spec.queue_bound;
    s.held_cap = spec.held_cap;
    auto id = f->scheduler->add_app(s);
    if (!id) {
      for (size_t i = 0; i < a->sched_ids.size(); ++i)
        (void)ifaces_[i]->scheduler->remove_app(a->sched_ids[i]);
      return id.error();
    }
    a->sched_ids.push_back(id.value());
  }
  for (auto& f : ifaces_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = sched_key(a->id);
    epoll_ctl(f->epoll.get(), EPOLL_CTL_ADD, f->scheduler->ready_fd(a->sched_ids[f->index]), &ev);
    f->sched_armed[a->id] = true;
    ev.data.u64 = port_key(a->id);
    epoll_ctl(f->epoll.get(), EPOLL_CTL_ADD, port.wake_fd(), &ev);
  }
  const BackendApp id = a->id;
  apps_.push_back(std::move(a));
  return id;
}

Status EngineBackend::remove_app(BackendApp app) {
  std::vector<std::unique_lock<std::mutex>> locks;
  for (auto& f : ifaces_) locks.emplace_back(f->pump_mutex);
  std::lock_guard lock(apps_mutex_);
  auto it = std::find_if(apps_.begin(), apps_.end(), [&](const auto& a) { return a->id == app; });
  if (it == apps_.end()) return make_error(EINVAL, "remove unknown application");
  AppSlot& a = **it;
  Status result;
  for (auto& f : ifaces_) {
    epoll_ctl(f->epoll.get(), EPOLL_CTL_DEL, f->scheduler->ready_fd(a.sched_ids[f->index]),
              nullptr);
    epoll_ctl(f->epoll.get(), EPOLL_CTL_DEL, a.port->wake_fd(), nullptr);
    f->sched_armed.erase(app);
    std::lock_guard send(f->send_mutex);
    for (SlotId slot : [&] {
           std::vector<SlotId> slots;
           for (const auto& info : f->scheduler->apps())
             if (info.id == a.sched_ids[f->index]) slots = info.slots;
           return slots;
         }())
      f->tags[slot] = 0;
    Status st = f->scheduler->remove_app(a.sched_ids[f->index]);
    if (!st.ok() && result.ok()) result = st;
  }
  apps_.erase(it);
  return result;
}

Result<BackendSocket> EngineBackend::add_socket(BackendApp app, const BackendSocketSpec& spec) {
  if (spec.iface >= ifaces_.size()) return make_error(ENODEV, "no such served interface");
  Iface& f = *ifaces_[spec.iface];
  std::lock_guard pump(f.pump_mutex);
  std::lock_guard lock(apps_mutex_);
  auto it = std::find_if(apps_.begin(), apps_.end(), [&](const auto& a) { return a->id == app; });
  if (it == apps_.end()) return make_error(EINVAL, "add socket to unknown application");
  std::lock_guard send(f.send_mutex);
  auto slot = f.scheduler->add_socket((*it)->sched_ids[f.index], spec.bind);
  if (!slot) return slot.error();
  f.tags[slot.value()] = spec.tag;
  return make_handle(f.index, slot.value());
}

Status EngineBackend::remove_socket(BackendApp app, BackendSocket socket) {
  Iface* f = iface_of(socket);
  if (f == nullptr) return make_error(EINVAL, "remove socket on unknown interface");
  std::lock_guard pump(f->pump_mutex);
  std::lock_guard lock(apps_mutex_);
  auto it = std::find_if(apps_.begin(), apps_.end(), [&](const auto& a) { return a->id == app; });
  if (it == apps_.end()) return make_error(EINVAL, "remove socket of unknown application");
  std::lock_guard send(f->send_mutex);
  const SlotId slot = handle_slot(socket);
  f->tags[slot] = 0;
  std::erase_if(f->deferred, [&](const Deferred& d) { return d.socket == socket; });
  return f->scheduler->remove_socket((*it)->sched_ids[f->index], slot);
}

Status EngineBackend::set_weight(BackendApp, uint32_t) {
  return make_error(EOPNOTSUPP,
                    "this lrpd's scheduler fixes weights when the application is created: "
                    "pass the weight with the application");
}

Status EngineBackend::join_group(uint32_t, const IpAddress& group) {
  return make_error(EOPNOTSUPP, "multicast group " + group.to_string() +
                                    ": this lrpd's XDP program does not steer multicast");
}

Status EngineBackend::leave_group(uint32_t, const IpAddress& group) {
  return make_error(EOPNOTSUPP, "multicast group " + group.to_string());
}

EngineBackend::Iface* EngineBackend::iface_of(BackendSocket socket) const {
  const uint32_t i = handle_iface(socket);
  return i < ifaces_.size() ? ifaces_[i].get() : nullptr;
}

std::vector<EngineStatus> EngineBackend::engine_status() const {
  std::vector<EngineStatus> out;
  for (const auto& f : ifaces_) {
    EngineStatus e{};
    std::strncpy(e.ifname, f->name.c_str(), sizeof(e.ifname) - 1);
    e.ifindex = f->ifindex;
    e.queue = f->engine->config().queue;
    e.cpu = f->cpu;
    e.mode = static_cast<uint8_t>(mode_code(f->scheduler->config().mode));
    const sched::EngineCounters& c = f->scheduler->engine_counters();
    e.polling = c.polling.load(std::memory_order_relaxed) ? 1 : 0;
    e.passes = c.passes.load(std::memory_order_relaxed);
    e.empty_passes = c.empty_passes.load(std::memory_order_relaxed);
    e.wakeups = c.wakeups.load(std::memory_order_relaxed);
    e.sleeps = c.sleeps.load(std::memory_order_relaxed);
    e.switches_to_poll = c.switches_to_poll.load(std::memory_order_relaxed);
    e.switches_to_interrupt = c.switches_to_interrupt.load(std::memory_order_relaxed);
    e.idle_poll_ns = c.idle_poll_ns.load(std::memory_order_relaxed);
    e.engine_cpu_ns = static_cast<uint64_t>(f->scheduler->engine_cpu_ns());
    e.fill_ring = f->engine->fill_ring_entries();
    const FrameCounts counts = f->engine->frames().counts();
    e.frames_total = static_cast<uint32_t>(counts.total);
    e.frames_held = static_cast<uint32_t>(counts.at(FramePlace::Held));
    e.frame_violations = f->engine->frames().violations();
    {
      // Sockets open and close on the calling (control) thread only.
      std::lock_guard send(f->send_mutex);
      e.frames_accounted = f->engine->frames_accounted(nullptr) ? 1 : 0;
    }
    out.push_back(e);
  }
  return out;
}

BackendAppCounters EngineBackend::app_counters(BackendApp app) const {
  BackendAppCounters out;
  std::lock_guard lock(apps_mutex_);
  auto it = std::find_if(apps_.begin(), apps_.end(), [&](const auto& a) { return a->id == app; });
  if (it == apps_.end()) return out;
  for (const auto& f : ifaces_) {
    f->scheduler->with_app((*it)->sched_ids[f->index], [&](const sched::AppCounters& c, size_t) {
      out.charged_ns += c.charged_ns.load(std::memory_order_relaxed);
      out.frames += c.frames.load(std::memory_order_relaxed);
      out.delivered += c.delivered.load(std::memory_order_relaxed);
      out.skipped_full += c.skipped_full.load(std::memory_order_relaxed);
      out.shed_raised += c.shed_raised.load(std::memory_order_relaxed);
    });
  }
  return out;
}

BackendSocketCounters EngineBackend::socket_counters(BackendSocket socket) const {
  BackendSocketCounters out;
  Iface* f = iface_of(socket);
  if (f == nullptr) return out;
  const SlotId slot = handle_slot(socket);
  f->engine->with_open_socket(slot, [&] {
    const SocketCounters& c = f->engine->counters(slot);
    out.delivered = c.delivered.load(std::memory_order_relaxed);
    out.delivered_bytes = c.delivered_bytes.load(std::memory_order_relaxed);
    for (const auto& v : c.invalid) out.invalid += v.load(std::memory_order_relaxed);
    out.sent = c.sent.load(std::memory_order_relaxed);
    if (auto k = f->engine->kernel_stats(slot)) out.kernel_ring_full = k->rx_ring_full;
    if (auto s = f->engine->program().slot_counters(slot)) out.shed = s->at(LRP_SLOT_SHED);
  });
  return out;
}

std::vector<EngineBackend::Served> EngineBackend::served() const {
  std::vector<Served> out;
  for (const auto& f : ifaces_) out.push_back(Served{f->engine.get(), f->scheduler.get()});
  return out;
}

// One pass: what the scheduler delivered goes into the applications' rings
// (as much as each has room for), then their transmit rings are drained.
size_t EngineBackend::pump_pass(Iface& f, Sender& sender) {
  size_t work = sender.retry_deferred();
  Datagram batch[kBatch];
  Delivery out[kBatch];
  for (const auto& a : apps_) {
    const sched::AppId sid = a->sched_ids[f.index];
    const size_t room = a->port->room();
    const bool armed = f.sched_armed[a->id];
    if (room > 0) {
      const size_t n = f.scheduler->receive(sid, {batch, std::min(room, kBatch)}, 0);
      if (n > 0) {
        const uint64_t now = realtime_ns();
        for (size_t i = 0; i < n; ++i)
          out[i] = Delivery{f.tags[batch[i].slot],
                            &batch[i].view,
                            f.ifindex,
                            static_cast<uint16_t>(f.engine->config().queue),
                            0,
                            0,
                            now};
        a->port->deliver(std::span<const Delivery>(out, n));
        f.scheduler->done(std::span<const Datagram>(batch, n));
        a->port->wake_if_waiting();
        work += n;
      }
    }
    // Without room, its scheduler's readiness must not keep waking us: the
    // application's doorbell says when it made room.
    const bool want = a->port->room() > 0;
    if (want != armed) {
      epoll_event ev{};
      ev.events = want ? uint32_t{EPOLLIN} : 0u;
      ev.data.u64 = sched_key(a->id);
      epoll_ctl(f.epoll.get(), EPOLL_CTL_MOD, f.scheduler->ready_fd(sid), &ev);
      f.sched_armed[a->id] = want;
    }
    work += a->port->drain_tx(sender, kTxBudget);
  }
  sender.flush_all();
  return work;
}

void EngineBackend::pump(Iface& f) {
  if (f.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(f.cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
  Sender sender(*this, f);
  while (running_.load(std::memory_order_relaxed)) {
    size_t work;
    bool quiet = true;
    {
      std::lock_guard lock(f.pump_mutex);
      work = pump_pass(f, sender);
      if (work == 0)
        for (const auto& a : apps_)
          if (!a->doorbell_closed && !a->port->arm_wakeup()) quiet = false;
    }
    if (work > 0 || !quiet) continue;
    epoll_event events[32];
    const int timeout = f.deferred.empty() ? 100 : 1;
    const int n = epoll_wait(f.epoll.get(), events, 32, timeout);
    for (int i = 0; i < n; ++i) {
      const uint64_t key = events[i].data.u64;
      if (key == kWakeKey) {
        uint64_t v;
        (void)!read(f.wake.get(), &v, sizeof(v));
        continue;
      }
      if ((key & 1) == 0) continue;  // a scheduler delivered: the next pass takes it
      std::lock_guard lock(f.pump_mutex);
      for (auto& a : apps_) {
        if (a->id != key >> 1) continue;
        if (drain_doorbell(a->port->wake_fd()) == DoorbellState::Closed) {
          // Every process of the application closed its end: it can no
          // longer wake lrpd (its connection ending removes it soon).
          a->doorbell_closed = true;
          for (auto& g : ifaces_)
            epoll_ctl(g->epoll.get(), EPOLL_CTL_DEL, a->port->wake_fd(), nullptr);
        }
      }
    }
  }
}

}  // namespace lrp::service
