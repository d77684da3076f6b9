#include "tests/service/fake_backend.h"

#include <cstring>

#include "lrp/flow_key.h"

namespace lrp::service::test {

FakeBackend::FakeBackend()
    : FakeBackend({ServedInterface{
          "fake0",
          7,
          1500,
          {IpAddress::parse("198.18.0.1").value(), IpAddress::parse("2001:2::1").value(),
           IpAddress::parse("127.0.0.1").value()}}}) {}

FakeBackend::FakeBackend(std::vector<ServedInterface> interfaces)
    : interfaces_(std::move(interfaces)) {}

std::vector<ServedInterface> FakeBackend::interfaces() const {
  return interfaces_;
}

Result<BackendApp> FakeBackend::add_app(const BackendAppSpec& spec, AppPort& port) {
  std::lock_guard lock(mutex_);
  const BackendApp id = next_app_++;
  apps_[id] = AppRecord{spec, &port};
  return id;
}

Status FakeBackend::remove_app(BackendApp app) {
  // Synchronous with deliveries and drains, as the contract asks.
  std::lock_guard ports(port_mutex_);
  std::lock_guard lock(mutex_);
  if (apps_.erase(app) == 0) return make_error(EINVAL, "remove unknown application");
  std::erase_if(sockets_, [&](const auto& kv) { return kv.second.app == app; });
  return {};
}

void FakeBackend::flush_transmit(BackendApp app) {
  std::lock_guard ports(port_mutex_);
  AppPort* port = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (auto it = apps_.find(app); it != apps_.end()) port = it->second.port;
  }
  if (port != nullptr) port->drain_tx(*this, 1024);
}

static bool same_flow(const BackendSocketSpec& a, const BackendSocketSpec& b) {
  const lrp_flow_key ka = flow_key_for(a.bind);
  const lrp_flow_key kb = flow_key_for(b.bind);
  return a.iface == b.iface && std::memcmp(&ka, &kb, sizeof(ka)) == 0;
}

Result<BackendSocket> FakeBackend::add_socket(BackendApp app, const BackendSocketSpec& spec) {
  std::lock_guard lock(mutex_);
  if (apps_.count(app) == 0) return make_error(EINVAL, "add socket to unknown application");
  for (const auto& [id, s] : sockets_)
    if (same_flow(s.spec, spec) && !(s.spec.reuseport && spec.reuseport))
      return make_error(EADDRINUSE, "flow served already");
  const BackendSocket id = next_socket_++;
  sockets_[id] = SocketRecord{app, spec};
  return id;
}

Status FakeBackend::remove_socket(BackendApp app, BackendSocket socket) {
  std::lock_guard lock(mutex_);
  auto it = sockets_.find(socket);
  if (it == sockets_.end() || it->second.app != app)
    return make_error(EINVAL, "remove unknown socket");
  sockets_.erase(it);
  return {};
}

Status FakeBackend::set_weight(BackendApp app, uint32_t weight) {
  std::lock_guard lock(mutex_);
  auto it = apps_.find(app);
  if (it == apps_.end()) return make_error(EINVAL, "unknown application");
  it->second.spec.weight = weight;
  return {};
}

Status FakeBackend::join_group(BackendSocket socket, const IpAddress& group) {
  std::lock_guard lock(mutex_);
  auto s = sockets_.find(socket);
  if (s == sockets_.end()) return make_error(EBADF, "join on unknown socket");
  ++groups_[{s->second.spec.iface, group}];
  return {};
}

Status FakeBackend::leave_group(BackendSocket socket, const IpAddress& group) {
  std::lock_guard lock(mutex_);
  auto s = sockets_.find(socket);
  if (s == sockets_.end()) return make_error(EBADF, "leave on unknown socket");
  auto it = groups_.find({s->second.spec.iface, group});
  if (it == groups_.end()) return make_error(ENOENT, "not joined");
  if (--it->second == 0) groups_.erase(it);
  return {};
}

std::vector<EngineStatus> FakeBackend::engine_status() const {
  std::vector<EngineStatus> out;
  for (const auto& i : interfaces_) {
    EngineStatus e{};
    std::strncpy(e.ifname, i.name.c_str(), sizeof(e.ifname) - 1);
    e.ifindex = i.ifindex;
    e.cpu = -1;
    e.mode = static_cast<uint8_t>(EngineModeCode::Adaptive);
    out.push_back(e);
  }
  return out;
}

BackendAppCounters FakeBackend::app_counters(BackendApp) const {
  return {};
}
BackendSocketCounters FakeBackend::socket_counters(BackendSocket) const {
  return {};
}

Status FakeBackend::send(BackendSocket socket, const Endpoint& to, std::span<const uint8_t> payload,
                         const IpAddress* from) {
  std::lock_guard lock(mutex_);
  if (sockets_.count(socket) == 0) return make_error(EBADF, "send on unknown socket");
  SentDatagram d{socket, to, {payload.begin(), payload.end()}, {}};
  if (from != nullptr) d.from = *from;
  sent_.push_back(std::move(d));
  return {};
}

bool FakeBackend::is_local(uint32_t iface, const IpAddress& addr) {
  if (iface >= interfaces_.size()) return false;
  for (const auto& a : interfaces_[iface].addresses)
    if (a == addr) return true;
  return false;
}

uint32_t FakeBackend::route(const IpAddress&) {
  return 0;
}

bool FakeBackend::deliver(uint32_t tag, const Endpoint& from, const Endpoint& to,
                          std::span<const uint8_t> payload) {
  std::lock_guard ports(port_mutex_);
  AppPort* port = nullptr;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, s] : sockets_)
      if (s.spec.tag == tag) port = apps_.at(s.app).port;
  }
  if (port == nullptr || port->room() == 0) return false;
  DatagramView view{from, to, payload, 0};
  Delivery d{tag, &view, interfaces_[0].ifindex, 0, 0, 64, 1};
  const size_t n = port->deliver(std::span<const Delivery>(&d, 1));
  port->wake_if_waiting();
  return n == 1;
}

size_t FakeBackend::drain_all() {
  std::lock_guard port_lock(port_mutex_);
  std::vector<AppPort*> ports;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, a] : apps_) ports.push_back(a.port);
  }
  size_t n = 0;
  for (AppPort* p : ports) n += p->drain_tx(*this, 1024);
  return n;
}

std::vector<SentDatagram> FakeBackend::sent() const {
  std::lock_guard lock(mutex_);
  return sent_;
}

size_t FakeBackend::app_count() const {
  std::lock_guard lock(mutex_);
  return apps_.size();
}

size_t FakeBackend::socket_count() const {
  std::lock_guard lock(mutex_);
  return sockets_.size();
}

std::vector<FakeBackend::SocketRecord> FakeBackend::sockets() const {
  std::lock_guard lock(mutex_);
  std::vector<SocketRecord> out;
  for (const auto& [id, s] : sockets_) out.push_back(s);
  return out;
}

std::optional<FakeBackend::AppRecord> FakeBackend::app(BackendApp id) const {
  std::lock_guard lock(mutex_);
  auto it = apps_.find(id);
  if (it == apps_.end()) return std::nullopt;
  return it->second;
}

std::vector<FakeBackend::AppRecord> FakeBackend::apps() const {
  std::lock_guard lock(mutex_);
  std::vector<AppRecord> out;
  for (const auto& [id, a] : apps_) out.push_back(a);
  return out;
}

int FakeBackend::group_refs(uint32_t iface, const IpAddress& group) const {
  std::lock_guard lock(mutex_);
  auto it = groups_.find({iface, group});
  return it == groups_.end() ? 0 : it->second;
}

}  // namespace lrp::service::test
