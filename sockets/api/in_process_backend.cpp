#include "sockets/api/in_process_backend.h"

#include <bpf/libbpf.h>

#include "exporters/metrics_server.h"
#include "sockets/api/stack.h"

namespace lrp::sockets {

namespace {
int quiet_libbpf(enum libbpf_print_level, const char*, va_list) {
  return 0;
}
}  // namespace

Result<std::unique_ptr<Backend>> InProcessBackend::open(StackConfig& config) {
  runtime::RuntimeConfig rc;
  rc.interface.ifname = config.ifname;
  rc.interface.xdp_mode = config.xdp_mode;
  rc.interface.engine = config.engine;
  rc.scheduler = config.scheduler;
  rc.scheduler.mode = config.mode;
  rc.scheduler.threading = config.threading;
  rc.scheduler.engine_cpu = config.engine_cpu;
  rc.scheduler.busy_poll = config.busy_poll;
  rc.cpus = config.cpus;
  rc.program = "lrp";
  // libbpf explains a refused attach in lines of its own; the error that
  // comes back says it in one.
  const libbpf_print_fn_t previous = config.quiet ? libbpf_set_print(quiet_libbpf) : nullptr;
  auto runtime = runtime::InterfaceRuntime::open(rc);
  if (config.quiet) libbpf_set_print(previous);
  if (!runtime) return runtime.error();
  config.threading = runtime.value()->scheduler(0).config().threading;
  LRP_TRY(runtime.value()->start());
  return std::unique_ptr<Backend>(new InProcessBackend(std::move(runtime.value())));
}

InProcessBackend::InProcessBackend(std::unique_ptr<runtime::InterfaceRuntime> runtime)
    : runtime_(std::move(runtime)) {}

InProcessBackend::~InProcessBackend() {
  metrics_.reset();
  runtime_->stop();
}

Result<std::string> InProcessBackend::start_metrics(const std::string& host_port) {
  std::lock_guard lock(metrics_mutex_);
  if (metrics_ != nullptr)
    return make_error(
        EALREADY, "metrics of " + runtime_->interface().name() + " already at " + metrics_->url());
  auto server = exporters::MetricsServer::start(host_port, runtime_->metrics_sources());
  if (!server) return server.error();
  metrics_ = std::move(server.value());
  return metrics_->url();
}

std::string InProcessBackend::metrics_url() const {
  std::lock_guard lock(metrics_mutex_);
  return metrics_ == nullptr ? std::string() : metrics_->url();
}

Result<BackendApp> InProcessBackend::add_app(const ApplicationConfig& config) {
  const sched::AppSpec spec{.name = config.name,
                            .weight = config.weight,
                            .queue_bound = config.queue_bound,
                            .held_cap = config.held_cap};
  return runtime_->add_app(spec);
}

Status InProcessBackend::remove_app(BackendApp app) {
  return runtime_->remove_app(app);
}

Result<SlotId> InProcessBackend::add_socket(BackendApp app, const BindSpec& bind,
                                            int /*kernel_fd*/) {
  return runtime_->add_socket(app, bind);
}

Status InProcessBackend::remove_socket(BackendApp app, SlotId slot) {
  return runtime_->remove_socket(app, slot);
}

Status InProcessBackend::rebind_socket(BackendApp app, SlotId slot, const BindSpec& bind,
                                       int /*kernel_fd*/) {
  return runtime_->rebind_socket(app, slot, bind);
}

size_t InProcessBackend::receive(BackendApp app, std::span<Datagram> out, int timeout_ms) {
  return runtime_->receive(app, out, timeout_ms);
}

void InProcessBackend::done(std::span<const Datagram> datagrams) {
  runtime_->done(datagrams);
}

int InProcessBackend::ready_fd(BackendApp app) const {
  return runtime_->ready_fd(app);
}

size_t InProcessBackend::queued(BackendApp app) const {
  return runtime_->queued(app);
}

size_t InProcessBackend::pending(BackendApp app, SlotId slot) const {
  size_t n = runtime_->queued(app);
  for (size_t q = 0; q < runtime_->queue_count(); ++q)
    n += runtime_->engine(q).rx_ring_entries(slot);
  return n;
}

bool InProcessBackend::maybe_pending(BackendApp app) {
  return runtime_->maybe_pending(app);
}

Status InProcessBackend::send(SlotId slot, const Endpoint& to, std::span<const uint8_t> payload,
                              const IpAddress* from, int reply_queue, bool kick_when_full) {
  Engine* engine =
      reply_queue >= 0 ? runtime_->engine_of_queue(static_cast<uint32_t>(reply_queue)) : nullptr;
  if (engine == nullptr) engine = &runtime_->engine_for_send(slot);
  Status st = engine->send(slot, to, payload, from);
  if (!st.ok() && st.error().code == EAGAIN && kick_when_full) {
    // Completions may be waiting and the kernel may not have been kicked.
    (void)engine->flush(slot);
    st = engine->send(slot, to, payload, from);
  }
  return st;
}

Result<size_t> InProcessBackend::send_batch(SlotId slot, std::span<const OutDatagram> batch,
                                            int reply_queue, Kick kick) {
  Engine* engine =
      reply_queue >= 0 ? runtime_->engine_of_queue(static_cast<uint32_t>(reply_queue)) : nullptr;
  if (engine == nullptr) engine = &runtime_->engine_for_send(slot);
  return engine->send_batch(slot, batch, kick);
}

Status InProcessBackend::flush(SlotId slot) {
  Status result;
  for (size_t i = 0; i < runtime_->queue_count(); ++i) {
    Status st = runtime_->engine(i).flush(slot);
    if (!st.ok() && result.ok()) result = st;
  }
  return result;
}

SocketStats InProcessBackend::socket_stats(SlotId slot) const {
  SocketStats s;
  auto& rt = *runtime_;
  for (size_t i = 0; i < rt.queue_count(); ++i) {
    Engine& e = rt.engine(i);
    e.with_open_socket(slot, [&] {
      const SocketCounters& c = e.counters(slot);
      s.delivered += c.delivered.load(std::memory_order_relaxed);
      s.delivered_bytes += c.delivered_bytes.load(std::memory_order_relaxed);
      for (const auto& reason : c.invalid) s.invalid += reason.load(std::memory_order_relaxed);
      s.sent += c.sent.load(std::memory_order_relaxed);
      s.sent_bytes += c.sent_bytes.load(std::memory_order_relaxed);
      s.send_would_block += c.send_would_block.load(std::memory_order_relaxed);
      s.completed += c.completed.load(std::memory_order_relaxed);
      s.neighbour_waited += c.neighbour_waited.load(std::memory_order_relaxed);
      s.neighbour_dropped += e.neighbour_drops(slot);
    });
  }
  return s;
}

AppStats InProcessBackend::app_stats(BackendApp app) const {
  AppStats s;
  auto& rt = *runtime_;
  for (size_t i = 0; i < rt.queue_count(); ++i) {
    rt.scheduler(i).with_app(rt.app_id(app, i), [&](const sched::AppCounters& c, size_t) {
      s.charged_ns += c.charged_ns.load(std::memory_order_relaxed);
      s.visits += c.visits.load(std::memory_order_relaxed);
      s.delivered += c.delivered.load(std::memory_order_relaxed);
      s.queue_full_drops += c.queue_full_drops.load(std::memory_order_relaxed);
      s.shed_raised += c.shed_raised.load(std::memory_order_relaxed);
      s.shed = s.shed || c.shed.load(std::memory_order_relaxed);
    });
  }
  return s;
}

}  // namespace lrp::sockets
