#include "service/daemon/runtime_backend.h"

#include <linux/if_xdp.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <deque>

#include "service/wire/unique_fd.h"

namespace lrp::service {

namespace {

constexpr size_t kChunk = 64;
constexpr size_t kMaxDeferred = 256;
constexpr int64_t kDeferredLifeNs = 1'000'000'000;

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

}  // namespace

struct RuntimeBackend::Served {
  uint32_t index = 0;
  std::string name;
  uint32_t ifindex = 0;
  uint32_t mtu = 0;
  std::unique_ptr<runtime::InterfaceRuntime> runtime;
  // slot -> lrpd socket id, read by the engine threads as they deliver.
  std::array<std::atomic<uint32_t>, LRP_MAX_SLOTS> tags{};
  // One producer at a time on a queue's TX rings: that queue's engine
  // thread, or another interface's sending through it.
  std::vector<std::unique_ptr<std::mutex>> send_mutex;

  size_t queue_index(const Engine& e) const {
    for (size_t i = 0; i < runtime->queue_count(); ++i)
      if (&runtime->engine(i) == &e) return i;
    return 0;
  }
};

struct RuntimeBackend::App {
  BackendApp id = 0;
  AppPort* port = nullptr;
  std::vector<runtime::AppRef> refs;  // per served interface
};

// A datagram the device could not take yet (TX ring full, next hop still
// being resolved): kept and retried for a while instead of lost.
struct DeferredSend {
  BackendSocket socket = 0;
  Endpoint to;
  std::vector<uint8_t> payload;
  std::optional<IpAddress> from;
  int64_t since = 0;
};

// TxOut for one queue's engine thread draining one application.
class RuntimeBackend::Sender : public TxOut {
 public:
  Sender(RuntimeBackend& b, Served& home, Engine& engine, std::deque<DeferredSend>& deferred)
      : b_(b), home_(home), engine_(engine), deferred_(deferred) {}
  ~Sender() override { flush(); }

  Status send(BackendSocket socket, const Endpoint& to, std::span<const uint8_t> payload,
              const IpAddress* from) override {
    Status st = try_send(socket, to, payload, from);
    if (st.ok() || st.error().code != EAGAIN || deferred_.size() >= kMaxDeferred) return st;
    DeferredSend d{socket, to, {payload.begin(), payload.end()}, {}, monotonic_ns()};
    if (from != nullptr) d.from = *from;
    deferred_.push_back(std::move(d));
    return {};
  }
  bool is_local(uint32_t iface, const IpAddress& addr) override {
    if (iface >= b_.served_.size()) return false;
    const auto addresses = b_.served_[iface]->runtime->interface().addresses();
    return std::find(addresses.begin(), addresses.end(), addr) != addresses.end();
  }
  uint32_t route(const IpAddress& dst) override {
    if (b_.served_.size() == 1) return 0;
    // The kernel's choice: the source address it would use, then whose it is.
    UniqueFd probe(socket(dst.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss{};
    const socklen_t len = dst.to_sockaddr(9, &ss);
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0) {
      sockaddr_storage local{};
      socklen_t llen = sizeof(local);
      if (getsockname(probe.get(), reinterpret_cast<sockaddr*>(&local), &llen) == 0)
        if (auto a = IpAddress::from_sockaddr(local))
          for (uint32_t i = 0; i < b_.served_.size(); ++i)
            if (is_local(i, a.value())) return i;
    }
    return home_.index;
  }

  // Retries what waited, oldest first; drops what waited too long.
  size_t retry_deferred() {
    size_t n = 0;
    const int64_t now = monotonic_ns();
    while (!deferred_.empty()) {
      DeferredSend& d = deferred_.front();
      Status st = try_send(d.socket, d.to, d.payload, d.from ? &*d.from : nullptr);
      if (!st.ok() && st.error().code == EAGAIN && now - d.since < kDeferredLifeNs) break;
      deferred_.pop_front();
      ++n;
    }
    return n;
  }
  void flush() {
    for (const auto& t : touched_) {
      std::lock_guard lock(*t.mutex);
      (void)t.engine->flush(t.slot);
    }
    touched_.clear();
  }

 private:
  struct Touched {
    Engine* engine;
    std::mutex* mutex;
    SlotId slot;
    bool operator==(const Touched&) const = default;
  };

  Status try_send(BackendSocket socket, const Endpoint& to, std::span<const uint8_t> payload,
                  const IpAddress* from) {
    Served* target = b_.served_of(socket);
    if (target == nullptr) return make_error(EBADF, "send on an unknown interface");
    const SlotId slot = handle_slot(socket);
    // This queue's own engine, or (another interface) the one its runtime picks.
    Engine& e = target == &home_ ? engine_ : target->runtime->engine_for_send(slot);
    std::mutex& m = *target->send_mutex[target->queue_index(e)];
    std::lock_guard lock(m);
    Status st = e.send(slot, to, payload, from);
    if (!st.ok() && st.error().code == EAGAIN) {
      (void)e.flush(slot);
      st = e.send(slot, to, payload, from);
    }
    if (st.ok()) {
      const Touched t{&e, &m, slot};
      if (std::find(touched_.begin(), touched_.end(), t) == touched_.end()) touched_.push_back(t);
    }
    return st;
  }

  RuntimeBackend& b_;
  Served& home_;
  Engine& engine_;
  std::deque<DeferredSend>& deferred_;
  std::vector<Touched> touched_;
};

// One application on one queue, as that queue's scheduler sees it.
class RuntimeBackend::QueueChannel : public sched::AppChannel {
 public:
  QueueChannel(RuntimeBackend& b, AppPort& port, Served& served)
      : b_(b), port_(port), served_(served) {}

  size_t room() const override { return port_.room(); }

  size_t deliver(Engine& engine, std::span<const Datagram> datagrams) override {
    const uint64_t now = realtime_ns();
    size_t taken = 0;
    Delivery batch[kChunk];
    for (size_t at = 0; at < datagrams.size(); at += kChunk) {
      const size_t n = std::min(kChunk, datagrams.size() - at);
      for (size_t i = 0; i < n; ++i) {
        const Datagram& d = datagrams[at + i];
        batch[i] = Delivery{served_.tags[d.slot % LRP_MAX_SLOTS].load(std::memory_order_acquire),
                            &d.view,
                            served_.ifindex,
                            d.queue,
                            d.view.tos,
                            d.view.ttl,
                            now};
      }
      const size_t got = port_.deliver(std::span<const Delivery>(batch, n));
      // Copied: their frames go back now. The scheduler releases the rest.
      engine.release(datagrams.subspan(at, got));
      taken += got;
      if (got < n) break;
    }
    return taken;
  }

  void notify() override { port_.wake_if_waiting(); }

  size_t transmit(Engine& engine, size_t budget) override {
    Sender sender(b_, served_, engine, deferred_);
    size_t n = sender.retry_deferred();
    n += port_.drain_tx(sender, budget);
    // While something waits for the device, the engine keeps coming back.
    return deferred_.empty() ? n : std::max<size_t>(n, 1);
  }

  bool transmit_pending() const override { return !deferred_.empty() || port_.transmit_pending(); }

  int wake_fd() const override { return port_.wake_fd(); }
  void drain_wake() override { port_.drain_wake(); }

 private:
  RuntimeBackend& b_;
  AppPort& port_;
  Served& served_;
  // Only the queue's engine thread touches it.
  mutable std::deque<DeferredSend> deferred_;
};

Result<std::unique_ptr<RuntimeBackend>> RuntimeBackend::open(const RuntimeBackendConfig& config) {
  if (config.interfaces.empty()) return make_error(EINVAL, "no interface to serve");
  std::unique_ptr<RuntimeBackend> b(new RuntimeBackend());
  b->config_ = config;
  for (size_t i = 0; i < config.interfaces.size(); ++i) {
    auto s = std::make_unique<Served>();
    s->index = static_cast<uint32_t>(i);
    s->name = config.interfaces[i];
    runtime::RuntimeConfig rc;
    rc.interface.ifname = s->name;
    rc.interface.xdp_mode = config.xdp_mode;
    rc.scheduler.mode = config.mode;
    rc.scheduler.threading = sched::Threading::Dedicated;
    rc.cpus = config.cpus;
    rc.program = "lrpd";
    rc.on_link_change = LinkMonitor::stop_on_delete();
    auto rt = runtime::InterfaceRuntime::open(rc);
    if (!rt) return rt.error();
    s->runtime = std::move(rt.value());
    s->ifindex = static_cast<uint32_t>(s->runtime->interface().ifindex());
    s->mtu = s->runtime->interface().info().mtu;
    for (size_t q = 0; q < s->runtime->queue_count(); ++q)
      s->send_mutex.push_back(std::make_unique<std::mutex>());
    b->served_.push_back(std::move(s));
  }
  return b;
}

RuntimeBackend::~RuntimeBackend() {
  stop();
  std::vector<BackendApp> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& a : apps_) ids.push_back(a->id);
  }
  for (BackendApp id : ids) (void)remove_app(id);
}

std::vector<ServedInterface> RuntimeBackend::interfaces() const {
  std::vector<ServedInterface> out;
  for (const auto& s : served_)
    out.push_back(
        ServedInterface{s->name, s->ifindex, s->mtu, s->runtime->interface().addresses()});
  return out;
}

Status RuntimeBackend::start() {
  for (auto& s : served_) LRP_TRY(s->runtime->start());
  return {};
}

void RuntimeBackend::stop() {
  for (auto& s : served_) s->runtime->stop();
}

RuntimeBackend::App* RuntimeBackend::app(BackendApp id) const {
  for (const auto& a : apps_)
    if (a->id == id) return a.get();
  return nullptr;
}

RuntimeBackend::Served* RuntimeBackend::served_of(BackendSocket socket) const {
  const uint32_t i = handle_iface(socket);
  return i < served_.size() ? served_[i].get() : nullptr;
}

Result<BackendApp> RuntimeBackend::add_app(const BackendAppSpec& spec, AppPort& port) {
  std::lock_guard lock(mutex_);
  auto a = std::make_unique<App>();
  a->id = next_app_++;
  a->port = &port;
  sched::AppSpec s;
  s.name = spec.name;
  s.weight = spec.weight;
  s.queue_bound = spec.queue_bound;
  s.held_cap = spec.held_cap;
  for (auto& served : served_) {
    Served* sp = served.get();
    auto ref = sp->runtime->add_app(
        s, [this, &port, sp](size_t) { return std::make_unique<QueueChannel>(*this, port, *sp); });
    if (!ref) {
      for (size_t i = 0; i < a->refs.size(); ++i) (void)served_[i]->runtime->remove_app(a->refs[i]);
      return ref.error();
    }
    a->refs.push_back(ref.value());
  }
  const BackendApp id = a->id;
  apps_.push_back(std::move(a));
  return id;
}

Status RuntimeBackend::remove_app(BackendApp id) {
  std::lock_guard lock(mutex_);
  App* a = app(id);
  if (a == nullptr) return make_error(EINVAL, "remove unknown application");
  Status result;
  // The schedulers hold their lock around every channel call, and removing
  // the application takes it: no engine thread is in the port afterwards.
  for (size_t i = 0; i < served_.size(); ++i) {
    Status st = served_[i]->runtime->remove_app(a->refs[i]);
    if (!st.ok() && result.ok()) result = st;
  }
  std::erase_if(apps_, [&](const auto& p) { return p->id == id; });
  return result;
}

void RuntimeBackend::flush_transmit(BackendApp id) {
  std::lock_guard lock(mutex_);
  App* a = app(id);
  // One queue is enough: every queue's channel drains the same ring.
  if (a != nullptr && !served_.empty()) served_[0]->runtime->flush_transmit(a->refs[0]);
}

Result<BackendSocket> RuntimeBackend::add_socket(BackendApp id, const BackendSocketSpec& spec) {
  if (spec.iface >= served_.size()) return make_error(ENODEV, "no such served interface");
  std::lock_guard lock(mutex_);
  App* a = app(id);
  if (a == nullptr) return make_error(EINVAL, "add socket to unknown application");
  Served& s = *served_[spec.iface];
  BindSpec bind = spec.bind;
  bind.reuseport = spec.reuseport;
  auto slot = s.runtime->add_socket(a->refs[spec.iface], bind);
  if (!slot) return slot.error();
  s.tags[slot.value()].store(spec.tag, std::memory_order_release);
  return make_handle(spec.iface, slot.value());
}

Status RuntimeBackend::remove_socket(BackendApp id, BackendSocket socket) {
  Served* s = served_of(socket);
  if (s == nullptr) return make_error(EINVAL, "remove socket on unknown interface");
  std::lock_guard lock(mutex_);
  App* a = app(id);
  if (a == nullptr) return make_error(EINVAL, "remove socket of unknown application");
  const SlotId slot = handle_slot(socket);
  Status st = s->runtime->remove_socket(a->refs[s->index], slot);
  s->tags[slot].store(0, std::memory_order_release);
  return st;
}

Status RuntimeBackend::set_weight(BackendApp id, uint32_t weight) {
  std::lock_guard lock(mutex_);
  App* a = app(id);
  if (a == nullptr) return make_error(EINVAL, "unknown application");
  for (size_t i = 0; i < served_.size(); ++i)
    LRP_TRY(served_[i]->runtime->set_weight(a->refs[i], weight));
  return {};
}

Status RuntimeBackend::join_group(BackendSocket socket, const IpAddress& group) {
  Served* s = served_of(socket);
  if (s == nullptr) return make_error(EINVAL, "join a group on an unknown interface");
  return s->runtime->join_group(handle_slot(socket), group);
}

Status RuntimeBackend::leave_group(BackendSocket socket, const IpAddress& group) {
  Served* s = served_of(socket);
  if (s == nullptr) return make_error(EINVAL, "leave a group on an unknown interface");
  return s->runtime->leave_group(handle_slot(socket), group);
}

std::vector<EngineStatus> RuntimeBackend::engine_status() const {
  std::vector<EngineStatus> out;
  for (const auto& s : served_) {
    runtime::InterfaceRuntime& rt = *s->runtime;
    for (size_t q = 0; q < rt.queue_count(); ++q) {
      EngineStatus e{};
      std::strncpy(e.ifname, s->name.c_str(), sizeof(e.ifname) - 1);
      e.ifindex = s->ifindex;
      Engine& engine = rt.engine(q);
      const sched::Scheduler& sc = rt.scheduler(q);
      e.queue = engine.queue();
      e.cpu = rt.cpu_of(q);
      e.mode = static_cast<uint8_t>(mode_code(sc.config().mode));
      const sched::EngineCounters& c = sc.engine_counters();
      e.polling = c.polling.load(std::memory_order_relaxed) ? 1 : 0;
      e.passes = c.passes.load(std::memory_order_relaxed);
      e.empty_passes = c.empty_passes.load(std::memory_order_relaxed);
      e.wakeups = c.wakeups.load(std::memory_order_relaxed);
      e.sleeps = c.sleeps.load(std::memory_order_relaxed);
      e.switches_to_poll = c.switches_to_poll.load(std::memory_order_relaxed);
      e.switches_to_interrupt = c.switches_to_interrupt.load(std::memory_order_relaxed);
      e.idle_poll_ns = c.idle_poll_ns.load(std::memory_order_relaxed);
      e.engine_cpu_ns = static_cast<uint64_t>(sc.engine_cpu_ns());
      e.fill_ring = engine.fill_ring_entries();
      const FrameCounts counts = engine.frames().counts();
      e.frames_total = static_cast<uint32_t>(counts.total);
      e.frames_held = static_cast<uint32_t>(counts.at(FramePlace::Held));
      e.frame_violations = engine.frames().violations();
      for (const auto& info : sc.apps())
        sc.with_app(info.id, [&](const sched::AppCounters& c, size_t) {
          e.delivered += c.delivered.load(std::memory_order_relaxed);
        });
      {
        // Sockets open and close on the calling (control) thread only.
        std::lock_guard lock(*s->send_mutex[q]);
        e.frames_accounted = engine.frames_accounted(nullptr) ? 1 : 0;
      }
      out.push_back(e);
    }
  }
  return out;
}

BackendAppCounters RuntimeBackend::app_counters(BackendApp id) const {
  BackendAppCounters out;
  std::lock_guard lock(mutex_);
  App* a = app(id);
  if (a == nullptr) return out;
  for (size_t i = 0; i < served_.size(); ++i) {
    runtime::InterfaceRuntime& rt = *served_[i]->runtime;
    for (size_t q = 0; q < rt.queue_count(); ++q) {
      rt.scheduler(q).with_app(rt.app_id(a->refs[i], q), [&](const sched::AppCounters& c, size_t) {
        out.charged_ns += c.charged_ns.load(std::memory_order_relaxed);
        out.frames += c.frames.load(std::memory_order_relaxed);
        out.delivered += c.delivered.load(std::memory_order_relaxed);
        out.skipped_full += c.skipped_full.load(std::memory_order_relaxed);
        out.shed_raised += c.shed_raised.load(std::memory_order_relaxed);
      });
    }
  }
  return out;
}

BackendSocketCounters RuntimeBackend::socket_counters(BackendSocket socket) const {
  BackendSocketCounters out;
  Served* s = served_of(socket);
  if (s == nullptr) return out;
  const SlotId slot = handle_slot(socket);
  runtime::InterfaceRuntime& rt = *s->runtime;
  for (size_t q = 0; q < rt.queue_count(); ++q) {
    Engine& e = rt.engine(q);
    e.with_open_socket(slot, [&] {
      const SocketCounters& c = e.counters(slot);
      out.delivered += c.delivered.load(std::memory_order_relaxed);
      out.delivered_bytes += c.delivered_bytes.load(std::memory_order_relaxed);
      for (const auto& v : c.invalid) out.invalid += v.load(std::memory_order_relaxed);
      out.sent += c.sent.load(std::memory_order_relaxed);
      if (auto k = e.kernel_stats(slot)) out.kernel_ring_full += k->rx_ring_full;
    });
  }
  if (auto c = rt.interface().program().slot_counters(slot)) out.shed = c->at(LRP_SLOT_SHED);
  return out;
}

std::vector<exporters::MetricsSource> RuntimeBackend::metrics_sources() {
  std::vector<exporters::MetricsSource> out;
  for (auto& s : served_) {
    auto part = s->runtime->metrics_sources();
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

}  // namespace lrp::service
