#include "sockets/api/service_backend.h"

#include "sockets/api/datagrams.h"

namespace lrp::sockets {

namespace {
// Ring entries one receive call takes at once.
constexpr size_t kBatch = 64;
// A datagram whose socket lrpd had not named yet (the first ones after a
// bind, before the id is known) still belongs to its application.
constexpr SlotId kUnknownSlot = 0xffff;
}  // namespace

Result<std::unique_ptr<ServiceBackend>> ServiceBackend::connect(
    const service::ClientConfig& config) {
  auto client = service::ServiceClient::connect(config);
  if (!client) return client.error();
  return std::unique_ptr<ServiceBackend>(new ServiceBackend(std::move(client.value())));
}

std::shared_ptr<service::ServiceApp> ServiceBackend::app_of(BackendApp app) const {
  std::lock_guard lock(mutex_);
  return app < apps_.size() ? apps_[app] : nullptr;
}

std::shared_ptr<ServiceBackend::Socket> ServiceBackend::socket_of(SlotId slot) const {
  std::lock_guard lock(mutex_);
  return slot < sockets_.size() ? sockets_[slot] : nullptr;
}

SlotId ServiceBackend::slot_of_handle(uint32_t handle) const {
  std::lock_guard lock(mutex_);
  for (SlotId s = 0; s < sockets_.size(); ++s)
    if (sockets_[s] != nullptr && sockets_[s]->service->handle() == handle) return s;
  return kUnknownSlot;
}

Result<BackendApp> ServiceBackend::add_app(const ApplicationConfig& config) {
  service::AppConfig ac;
  ac.name = config.name;
  ac.weight = config.weight;
  ac.queue_bound = config.queue_bound;
  ac.held_cap = config.held_cap;
  auto app = client_->create_app(ac);
  if (!app) return app.error();
  std::lock_guard lock(mutex_);
  BackendApp id = 0;
  while (id < apps_.size() && apps_[id] != nullptr) ++id;
  if (id == apps_.size()) apps_.emplace_back();
  apps_[id] = std::move(app.value());
  return id;
}

Status ServiceBackend::remove_app(BackendApp app) {
  std::lock_guard lock(mutex_);
  if (app >= apps_.size() || apps_[app] == nullptr)
    return make_error(EINVAL, "remove application " + std::to_string(app));
  apps_[app].reset();
  return {};
}

Result<SlotId> ServiceBackend::add_socket(BackendApp app, const BindSpec& bind, int kernel_fd) {
  if (kernel_fd < 0)
    return make_error(EINVAL, "serve udp port " + std::to_string(bind.port) +
                                  " through lrpd: it needs the bound kernel socket");
  auto a = app_of(app);
  if (a == nullptr) return make_error(EINVAL, "add a socket to application " + std::to_string(app));
  auto served = a->bind(kernel_fd);
  if (!served) return served.error();
  auto s = std::make_shared<Socket>();
  s->service = std::move(served.value());
  s->app = app;
  std::lock_guard lock(mutex_);
  SlotId slot = 0;
  while (slot < sockets_.size() && sockets_[slot] != nullptr) ++slot;
  if (slot == kUnknownSlot)
    return make_error(EMFILE, "serve udp port " + std::to_string(bind.port) +
                                  ": every socket number of this process is in use");
  if (slot == sockets_.size()) sockets_.emplace_back();
  sockets_[slot] = std::move(s);
  return slot;
}

Status ServiceBackend::remove_socket(BackendApp /*app*/, SlotId slot) {
  std::shared_ptr<Socket> s;
  {
    std::lock_guard lock(mutex_);
    if (slot >= sockets_.size() || sockets_[slot] == nullptr)
      return make_error(EBADF, "close socket " + std::to_string(slot) + ": not open");
    s = std::move(sockets_[slot]);
  }
  return s->service->close();
}

Status ServiceBackend::rebind_socket(BackendApp /*app*/, SlotId slot, const BindSpec& /*bind*/,
                                     int /*kernel_fd*/) {
  auto s = socket_of(slot);
  if (s == nullptr) return make_error(EBADF, "connect socket " + std::to_string(slot));
  // The caller connected the kernel socket; lrpd reads the flow from it.
  return s->service->connect();
}

size_t ServiceBackend::receive(BackendApp app, std::span<Datagram> out, int timeout_ms) {
  auto a = app_of(app);
  if (a == nullptr || out.empty()) return 0;
  service::RxDatagram batch[kBatch];
  auto got = a->receive({batch, std::min(out.size(), kBatch)}, timeout_ms);
  if (!got) return 0;
  for (size_t i = 0; i < got.value(); ++i) {
    const service::RxDatagram& r = batch[i];
    Datagram& d = out[i];
    d.view = DatagramView{};
    d.view.source = r.source;
    d.view.destination = r.destination;
    d.view.payload = r.payload;
    // The ring entry stays held (the RxDatagram goes without done()) until
    // done() hands its token back; queue names the application's ring.
    d.frame = r.token();
    d.slot = slot_of_handle(r.socket);
    d.queue = static_cast<uint16_t>(app);
    if (auto s = socket_of(d.slot)) s->delivered.fetch_add(1, std::memory_order_relaxed);
  }
  return got.value();
}

void ServiceBackend::done(std::span<const Datagram> datagrams) {
  std::shared_ptr<service::ServiceApp> a;
  BackendApp last = ~BackendApp{0};
  for (const Datagram& d : datagrams) {
    if (d.queue != last) {
      a = app_of(d.queue);
      last = d.queue;
    }
    if (a != nullptr) a->done_token(d.frame);
  }
}

int ServiceBackend::ready_fd(BackendApp app) const {
  auto a = app_of(app);
  return a == nullptr ? -1 : a->ready_fd();
}

size_t ServiceBackend::queued(BackendApp app) const {
  auto a = app_of(app);
  return a == nullptr ? 0 : a->rx_depth();
}

bool ServiceBackend::maybe_pending(BackendApp app) {
  return queued(app) > 0;
}

Status ServiceBackend::send(SlotId slot, const Endpoint& to, std::span<const uint8_t> payload,
                            const IpAddress* from, int /*reply_queue*/, bool /*kick_when_full*/) {
  auto s = socket_of(slot);
  if (s == nullptr) return make_error(EBADF, "send on socket " + std::to_string(slot));
  Status st = s->service->send_to(to, payload, from);
  if (st.ok()) {
    s->sent.fetch_add(1, std::memory_order_relaxed);
    s->sent_bytes.fetch_add(payload.size(), std::memory_order_relaxed);
  } else if (st.error().code == EAGAIN) {
    s->send_would_block.fetch_add(1, std::memory_order_relaxed);
  }
  return st;
}

Status ServiceBackend::flush(SlotId /*slot*/) {
  return {};  // the ring's doorbell rang when lrpd slept
}

SocketStats ServiceBackend::socket_stats(SlotId slot) const {
  SocketStats out;
  if (auto s = socket_of(slot)) {
    out.delivered = s->delivered.load(std::memory_order_relaxed);
    out.sent = s->sent.load(std::memory_order_relaxed);
    out.sent_bytes = s->sent_bytes.load(std::memory_order_relaxed);
    out.send_would_block = s->send_would_block.load(std::memory_order_relaxed);
  }
  return out;
}

AppStats ServiceBackend::app_stats(BackendApp app) const {
  // What lrpd charged is lrpd's to report (lrpctl, metrics); the ring's
  // header says what it dropped for lack of room.
  AppStats out;
  if (auto a = app_of(app)) out.queue_full_drops = a->rx_ring_full();
  return out;
}

Result<std::string> ServiceBackend::start_metrics(const std::string& host_port) {
  return make_error(ENOTSUP, "metrics on " + host_port +
                                 ": lrpd serves the metrics of every application it runs "
                                 "(lrpd --metrics HOST:PORT)");
}

}  // namespace lrp::sockets
