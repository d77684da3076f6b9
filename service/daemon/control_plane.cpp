#include "service/daemon/control_plane.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace lrp::service {

struct ControlPlane::Session {
  uint32_t id = 0;
  PeerCredentials peer;
  bool hello = false;
  std::string name;
  uint32_t weight = 1;
  std::set<uint32_t> apps;
  std::set<uint32_t> sockets;
};

struct ControlPlane::App {
  uint32_t id = 0;
  uint64_t secret = 0;
  std::string name;
  PeerCredentials creator;
  uint32_t weight = 1;
  BackendApp backend = 0;
  std::unique_ptr<AppChannel> channel;
  std::set<uint32_t> sessions;
  std::set<uint32_t> sockets;
};

struct ControlPlane::Socket {
  uint32_t id = 0;
  uint32_t app = 0;
  UniqueFd kernel;  // kept: the proof of ownership, and the fallback path
  KernelSocketInfo info;
  std::vector<TxBinding::Handle> handles;
  std::set<uint32_t> holders;                               // sessions
  std::vector<std::pair<BackendSocket, IpAddress>> groups;  // (backend socket, group) joined
};

void Replier::fail(MsgType request, const Error& error) {
  ErrorReply r{};
  r.error = error.code != 0 ? error.code : EINVAL;
  r.request_type = static_cast<uint16_t>(request);
  std::memcpy(r.message, error.context.data(),
              std::min(error.context.size(), sizeof(r.message) - 1));
  reply(MsgType::Error, r);
}

static uint8_t family_of(const IpAddress& a) {
  return a.is_v4() ? 4 : 6;
}

static bool is_multicast(const IpAddress& a) {
  return a.is_v4() ? (a.v4_bytes()[0] & 0xf0) == 0xe0 : a.bytes()[0] == 0xff;
}

static uint32_t ring_size(uint32_t asked, uint32_t fallback) {
  const uint32_t n = asked == 0 ? fallback : asked;
  return std::bit_ceil(std::clamp<uint32_t>(n, 2, kMaxRingEntries));
}

ControlPlane::ControlPlane(ServiceBackend& backend, const ControlConfig& config)
    : backend_(backend), config_(config) {
  uint32_t mtu = 0;
  for (const auto& i : backend_.interfaces()) mtu = std::max(mtu, i.mtu);
  slot_payload_ = slot_payload_for_mtu(mtu == 0 ? 1500 : mtu);
}

ControlPlane::~ControlPlane() {
  shutdown();
}

void ControlPlane::shutdown() {
  std::lock_guard lock(mutex_);
  while (!apps_.empty()) destroy_app(apps_.begin()->first, RegionState::Stopped);
  sessions_.clear();
}

uint32_t ControlPlane::open_session(const PeerCredentials& peer) {
  std::lock_guard lock(mutex_);
  auto s = std::make_unique<Session>();
  s->id = next_session_++;
  if (next_session_ == 0) next_session_ = 1;
  s->peer = peer;
  const uint32_t id = s->id;
  sessions_[id] = std::move(s);
  return id;
}

ControlPlane::Session* ControlPlane::session(uint32_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

void ControlPlane::handle(uint32_t session_id, const Message& m, Replier& out) {
  std::lock_guard lock(mutex_);
  Session* s = session(session_id);
  if (s == nullptr) return out.fail(m.type, make_error(ENOTCONN, "no such session"));
  if (m.type == MsgType::Hello) return hello(*s, m, out);
  if (!s->hello) return out.fail(m.type, make_error(EPROTO, "the first message must be hello"));
  switch (m.type) {
    case MsgType::CreateApp:
      return create_app(*s, m, out);
    case MsgType::JoinApp:
      return join_app(*s, m, out);
    case MsgType::Bind:
      return bind(*s, m, out);
    case MsgType::Connect:
      return connect(*s, m, out);
    case MsgType::CloseSocket:
      return close_socket(*s, m, out);
    case MsgType::SetOption:
      return set_option(*s, m, out);
    case MsgType::JoinGroup:
      return group(*s, m, true, out);
    case MsgType::LeaveGroup:
      return group(*s, m, false, out);
    case MsgType::LeaveApp:
      return leave_app(*s, m, out);
    case MsgType::QueryStatus:
    case MsgType::QueryApps:
    case MsgType::QuerySockets:
      return query(m, out);
    default:
      return out.fail(m.type, make_error(EOPNOTSUPP, "unknown request type " +
                                                         std::to_string(uint32_t(m.type))));
  }
}

void ControlPlane::hello(Session& s, const Message& m, Replier& out) {
  HelloRequest req{};
  if (!m.read(&req)) return out.fail(m.type, make_error(EPROTO, "malformed hello"));
  if (s.hello) return out.fail(m.type, make_error(EPROTO, "hello twice on one connection"));
  s.hello = true;
  s.name = get_name(req.name, sizeof(req.name));
  s.weight = req.weight == 0 ? 1 : std::min<uint32_t>(req.weight, 10000);
  HelloReply r{};
  r.session_id = s.id;
  r.daemon_pid = static_cast<uint32_t>(getpid());
  r.daemon_epoch = config_.epoch;
  r.max_payload = slot_payload_;
  r.interfaces = static_cast<uint32_t>(backend_.interfaces().size());
  out.reply(MsgType::HelloReply, r);
}

AppGrant ControlPlane::grant_for(const App& a) const {
  AppGrant g{};
  g.app_id = a.id;
  g.secret = a.secret;
  g.region_size = a.channel->region_size();
  return g;
}

void ControlPlane::reply_grant(const App& a, Replier& out) {
  const int fds[2] = {a.channel->region_fd(), a.channel->client_doorbell_fd()};
  out.reply(MsgType::AppGrantReply, grant_for(a), fds);
}

void ControlPlane::attach_app(Session& s, App& a) {
  a.sessions.insert(s.id);
  s.apps.insert(a.id);
}

void ControlPlane::create_app(Session& s, const Message& m, Replier& out) {
  CreateAppRequest req{};
  if (!m.read(&req)) return out.fail(m.type, make_error(EPROTO, "malformed create-application"));
  if (s.apps.size() >= config_.max_apps_per_session)
    return out.fail(m.type,
                    make_error(EMFILE, "this connection holds " + std::to_string(s.apps.size()) +
                                           " applications already"));
  auto a = std::make_unique<App>();
  a->id = next_app_++;
  if (getrandom(&a->secret, sizeof(a->secret), 0) != sizeof(a->secret))
    return out.fail(m.type, errno_error("draw the application secret"));
  a->name = get_name(req.name, sizeof(req.name));
  if (a->name.empty()) a->name = s.name.empty() ? "app-" + std::to_string(a->id) : s.name;
  a->creator = s.peer;
  a->weight = req.weight == 0 ? s.weight : std::min<uint32_t>(req.weight, 10000);
  RegionGeometry g;
  const uint32_t rx = ring_size(req.rx_entries, config_.rx_entries);
  if (!region_geometry(slot_payload_, rx, ring_size(req.tx_entries, config_.tx_entries), &g))
    return out.fail(m.type, make_error(EINVAL, "application ring sizes"));
  const uint32_t bound = std::min(req.queue_bound == 0 ? config_.queue_bound : req.queue_bound, rx);
  auto channel = AppChannel::create(a->id, g, config_.epoch, bound);
  if (!channel) return out.fail(m.type, channel.error());
  a->channel = std::move(channel.value());
  BackendAppSpec spec;
  spec.name = a->name;
  spec.weight = a->weight;
  spec.queue_bound = bound;
  spec.held_cap = req.held_cap == 0 ? config_.held_cap : req.held_cap;
  spec.pid = static_cast<uint32_t>(s.peer.pid);
  spec.uid = static_cast<uint32_t>(s.peer.uid);
  auto backend_app = backend_.add_app(spec, *a->channel);
  if (!backend_app) return out.fail(m.type, backend_app.error());
  a->backend = backend_app.value();
  attach_app(s, *a);
  App& ref = *a;
  apps_[a->id] = std::move(a);
  reply_grant(ref, out);
}

void ControlPlane::join_app(Session& s, const Message& m, Replier& out) {
  JoinAppRequest req{};
  if (!m.read(&req)) return out.fail(m.type, make_error(EPROTO, "malformed join-application"));
  auto it = apps_.find(req.app_id);
  // One answer for "no such application" and "wrong secret".
  if (it == apps_.end() || it->second->secret != req.secret)
    return out.fail(m.type, make_error(ENOENT, "no application " + std::to_string(req.app_id) +
                                                   " with that secret"));
  attach_app(s, *it->second);
  reply_grant(*it->second, out);
}

void ControlPlane::leave_app(Session& s, const Message& m, Replier& out) {
  SocketRequest req{};
  if (!m.read(&req)) return out.fail(m.type, make_error(EPROTO, "malformed leave-application"));
  if (app_held(s, req.socket_id, "leave", out, m.type) == nullptr) return;
  detach_session(s, req.socket_id);
  out.reply(MsgType::Ok, nullptr, 0);
}

// The session lets go of the application and of its sockets there.
void ControlPlane::detach_session(Session& s, uint32_t app_id) {
  App& a = *apps_.at(app_id);
  const std::set<uint32_t> sockets = s.sockets;
  for (uint32_t k : sockets)
    if (sockets_.at(k)->app == app_id) release_socket(s, k);
  a.sessions.erase(s.id);
  s.apps.erase(app_id);
  if (a.sessions.empty()) {
    destroy_app(app_id, RegionState::Detached);
  } else {
    // Other processes go on with the application: release what this one
    // held in the rings mid-claim.
    a.channel->reclaim(s.id);
  }
}

ControlPlane::App* ControlPlane::app_held(Session& s, uint32_t app_id, const char* what,
                                          Replier& out, MsgType type) {
  if (s.apps.count(app_id) == 0) {
    out.fail(type, make_error(EPERM, std::string(what) + ": application " + std::to_string(app_id) +
                                         " is not this connection's"));
    return nullptr;
  }
  return apps_.at(app_id).get();
}

ControlPlane::Socket* ControlPlane::socket_held(Session& s, uint32_t socket_id, const char* what,
                                                Replier& out, MsgType type) {
  if (s.sockets.count(socket_id) == 0) {
    out.fail(type, make_error(EBADF, std::string(what) + ": socket " + std::to_string(socket_id) +
                                         " is not this connection's"));
    return nullptr;
  }
  return sockets_.at(socket_id).get();
}

void ControlPlane::fill_reply(const Socket& k, SocketReply* r) const {
  r->socket_id = k.id;
  r->app_id = k.app;
  r->family = family_of(k.info.local.addr);
  std::memcpy(r->local_addr, k.info.local.addr.bytes().data(), 16);
  r->local_port = k.info.local.port;
  if (k.info.remote) {
    std::memcpy(r->remote_addr, k.info.remote->addr.bytes().data(), 16);
    r->remote_port = k.info.remote->port;
    r->flags |= kSocketConnected;
  }
  if (k.info.reuseport) r->flags |= kSocketReusePort;
  if (k.info.dual_stack) r->flags |= kSocketDualStack;
  if (!k.info.bound_device.empty()) r->flags |= kSocketDevice;
  r->inode = k.info.inode;
}

Result<std::vector<TxBinding::Handle>> ControlPlane::add_flows(App& a, uint32_t socket_id,
                                                               const KernelSocketInfo& info) {
  const std::string what = "serve udp " + info.local.to_string();
  const auto ifaces = backend_.interfaces();
  std::vector<uint32_t> targets;
  for (uint32_t i = 0; i < ifaces.size(); ++i) {
    if (!info.bound_device.empty() && ifaces[i].name != info.bound_device) continue;
    if (!info.local.addr.is_any() &&
        std::find(ifaces[i].addresses.begin(), ifaces[i].addresses.end(), info.local.addr) ==
            ifaces[i].addresses.end())
      continue;
    targets.push_back(i);
  }
  if (targets.empty()) {
    if (!info.bound_device.empty())
      return make_error(ENODEV, what + ": the socket is bound to " + info.bound_device +
                                    ", which lrpd does not serve");
    return make_error(EADDRNOTAVAIL, what + ": not an address of an interface lrpd serves");
  }
  std::vector<uint8_t> families;
  if (info.local.addr.is_v4()) {
    families = {4};
  } else if (info.dual_stack) {
    families = {6, 4};
  } else {
    families = {6};
  }
  std::vector<TxBinding::Handle> handles;
  for (uint32_t iface : targets) {
    for (uint8_t family : families) {
      BackendSocketSpec spec;
      spec.iface = iface;
      spec.bind.local = family == 4 && info.dual_stack ? IpAddress::any_v4() : info.local.addr;
      spec.bind.port = info.local.port;
      if (info.remote && family_of(info.remote->addr) == family) spec.bind.remote = info.remote;
      if (info.remote && !spec.bind.remote) continue;  // a connected socket has one family
      spec.reuseport = info.reuseport;
      spec.tag = socket_id;
      auto h = backend_.add_socket(a.backend, spec);
      if (!h) {
        remove_flows(a, handles);
        return h.error();
      }
      handles.push_back(TxBinding::Handle{iface, family, h.value()});
    }
  }
  return handles;
}

void ControlPlane::remove_flows(App& a, const std::vector<TxBinding::Handle>& handles) {
  for (const auto& h : handles) (void)backend_.remove_socket(a.backend, h.socket);
}

TxBinding ControlPlane::binding_for(const Socket& k) const {
  TxBinding b;
  b.socket_id = k.id;
  b.local = k.info.local.addr;
  b.port = k.info.local.port;
  b.family = family_of(k.info.local.addr);
  b.dual_stack = k.info.dual_stack;
  b.handles = k.handles;
  return b;
}

void ControlPlane::bind(Session& s, const Message& m, Replier& out) {
  BindRequest req{};
  if (!m.read(&req) || m.fds.size() != 1)
    return out.fail(m.type, make_error(EPROTO, "bind needs its body and one socket"));
  auto info = inspect_kernel_socket(m.fds[0].get());
  if (!info) return out.fail(m.type, info.error());
  SocketReply r{};
  // The same kernel socket again (a fork child, another process it was
  // passed to, a retry): join the lrp socket that serves it, and its
  // application. Holding the kernel socket is the right to do so.
  if (auto it = by_inode_.find({info->device, info->inode}); it != by_inode_.end()) {
    Socket& k = *sockets_.at(it->second);
    App& a = *apps_.at(k.app);
    const bool grant = s.apps.count(a.id) == 0;
    attach_app(s, a);
    k.holders.insert(s.id);
    s.sockets.insert(k.id);
    fill_reply(k, &r);
    r.flags |= kSocketJoined;
    if (!grant) return out.reply(MsgType::SocketReply, r);
    r.flags |= kSocketAppGranted;
    r.grant = grant_for(a);
    const int fds[2] = {a.channel->region_fd(), a.channel->client_doorbell_fd()};
    return out.reply(MsgType::SocketReply, r, fds);
  }
  App* a = app_held(s, req.app_id, "bind", out, m.type);
  if (a == nullptr) return;
  if (sockets_.size() >= config_.max_sockets)
    return out.fail(m.type, make_error(EMFILE, "lrpd serves " + std::to_string(sockets_.size()) +
                                                   " sockets already"));
  auto k = std::make_unique<Socket>();
  k->id = next_socket_++;
  k->app = a->id;
  k->info = info.value();
  auto handles = add_flows(*a, k->id, k->info);
  if (!handles) return out.fail(m.type, handles.error());
  k->handles = std::move(handles.value());
  k->kernel.reset(dup(m.fds[0].get()));
  k->holders.insert(s.id);
  s.sockets.insert(k->id);
  a->sockets.insert(k->id);
  a->channel->set_binding(binding_for(*k));
  by_inode_[{k->info.device, k->info.inode}] = k->id;
  fill_reply(*k, &r);
  sockets_[k->id] = std::move(k);
  out.reply(MsgType::SocketReply, r);
}

// The client connect()ed (or disconnected) its kernel socket; lrpd holds the
// same open file, so it reads the new addresses from the kernel itself.
void ControlPlane::connect(Session& s, const Message& m, Replier& out) {
  SocketRequest req{};
  if (!m.read(&req)) return out.fail(m.type, make_error(EPROTO, "malformed connect"));
  Socket* k = socket_held(s, req.socket_id, "connect", out, m.type);
  if (k == nullptr) return;
  auto info = inspect_kernel_socket(k->kernel.get());
  if (!info) return out.fail(m.type, info.error());
  App& a = *apps_.at(k->app);
  if (info->local != k->info.local || info->remote != k->info.remote) {
    // The new flow first (a connected flow is matched before the bound one),
    // then the old one goes: no datagram falls between them.
    auto handles = add_flows(a, k->id, info.value());
    if (!handles) return out.fail(m.type, handles.error());
    remove_flows(a, k->handles);
    k->handles = std::move(handles.value());
    k->info = info.value();
    a.channel->set_binding(binding_for(*k));
  }
  SocketReply r{};
  fill_reply(*k, &r);
  out.reply(MsgType::SocketReply, r);
}

void ControlPlane::close_socket(Session& s, const Message& m, Replier& out) {
  SocketRequest req{};
  if (!m.read(&req)) return out.fail(m.type, make_error(EPROTO, "malformed close"));
  if (socket_held(s, req.socket_id, "close", out, m.type) == nullptr) return;
  release_socket(s, req.socket_id);
  out.reply(MsgType::Ok, nullptr, 0);
}

void ControlPlane::set_option(Session& s, const Message& m, Replier& out) {
  SetOptionRequest req{};
  if (!m.read(&req)) return out.fail(m.type, make_error(EPROTO, "malformed set-option"));
  App* a = app_held(s, req.target, "set option", out, m.type);
  if (a == nullptr) return;
  switch (static_cast<OptionName>(req.option)) {
    case OptionName::AppWeight: {
      if (req.value < 1 || req.value > 10000)
        return out.fail(m.type, make_error(EINVAL, "weight " + std::to_string(req.value) +
                                                       " is not in 1..10000"));
      Status st = backend_.set_weight(a->backend, static_cast<uint32_t>(req.value));
      if (!st.ok()) return out.fail(m.type, st.error());
      a->weight = static_cast<uint32_t>(req.value);
      break;
    }
    case OptionName::AppQueueBound: {
      const uint32_t cap = a->channel->geometry().rx_entries;
      if (req.value < 1 || req.value > cap)
        return out.fail(m.type,
                        make_error(EINVAL, "receive queue bound " + std::to_string(req.value) +
                                               " is not in 1.." + std::to_string(cap)));
      a->channel->set_queue_bound(static_cast<uint32_t>(req.value));
      break;
    }
    default:
      return out.fail(m.type, make_error(ENOPROTOOPT, "option " + std::to_string(req.option)));
  }
  out.reply(MsgType::Ok, nullptr, 0);
}

void ControlPlane::group(Session& s, const Message& m, bool join, Replier& out) {
  GroupRequest req{};
  if (!m.read(&req)) return out.fail(m.type, make_error(EPROTO, "malformed group request"));
  Socket* k = socket_held(s, req.socket_id, join ? "join group" : "leave group", out, m.type);
  if (k == nullptr) return;
  IpAddress::Bytes bytes;
  std::memcpy(bytes.data(), req.group, 16);
  const IpAddress g(bytes);
  if (!is_multicast(g))
    return out.fail(m.type, make_error(EINVAL, g.to_string() + " is not a multicast group"));
  std::vector<const TxBinding::Handle*> handles;
  for (const auto& h : k->handles)
    if (h.family == family_of(g)) handles.push_back(&h);
  if (handles.empty())
    return out.fail(m.type, make_error(EAFNOSUPPORT, "group " + g.to_string() +
                                                         " is of another family than the socket"));
  auto joined = [&](const TxBinding::Handle* h) {
    return std::find(k->groups.begin(), k->groups.end(), std::pair{h->socket, g}) !=
           k->groups.end();
  };
  if (join) {
    std::vector<BackendSocket> done;
    for (const auto* h : handles) {
      if (joined(h)) continue;
      Status st = backend_.join_group(h->socket, g);
      if (!st.ok()) {
        for (BackendSocket d : done) {
          (void)backend_.leave_group(d, g);
          std::erase(k->groups, std::pair{d, g});
        }
        return out.fail(m.type, st.error());
      }
      k->groups.emplace_back(h->socket, g);
      done.push_back(h->socket);
    }
  } else {
    bool any = false;
    for (const auto* h : handles) {
      if (!joined(h)) continue;
      (void)backend_.leave_group(h->socket, g);
      std::erase(k->groups, std::pair{h->socket, g});
      any = true;
    }
    if (!any)
      return out.fail(m.type,
                      make_error(EADDRNOTAVAIL, "the socket did not join " + g.to_string()));
  }
  out.reply(MsgType::Ok, nullptr, 0);
}

void ControlPlane::release_socket(Session& s, uint32_t socket_id) {
  s.sockets.erase(socket_id);
  auto it = sockets_.find(socket_id);
  if (it == sockets_.end()) return;
  it->second->holders.erase(s.id);
  if (it->second->holders.empty()) destroy_socket(socket_id);
}

void ControlPlane::destroy_socket(uint32_t socket_id) {
  auto it = sockets_.find(socket_id);
  if (it == sockets_.end()) return;
  Socket& k = *it->second;
  App& a = *apps_.at(k.app);
  // What the application sent on it goes out first (its send returned);
  // then traffic goes back to the kernel socket, then the socket closes.
  backend_.flush_transmit(a.backend);
  for (const auto& [socket, g] : k.groups) (void)backend_.leave_group(socket, g);
  remove_flows(a, k.handles);
  a.channel->remove_binding(k.id);
  a.sockets.erase(k.id);
  for (uint32_t holder : k.holders)
    if (Session* s = session(holder)) s->sockets.erase(k.id);
  by_inode_.erase({k.info.device, k.info.inode});
  sockets_.erase(it);
}

void ControlPlane::destroy_app(uint32_t app_id, RegionState state) {
  auto it = apps_.find(app_id);
  if (it == apps_.end()) return;
  App& a = *it->second;
  while (!a.sockets.empty()) destroy_socket(*a.sockets.begin());
  (void)backend_.remove_app(a.backend);
  a.channel->detach(state);
  tx_rejected_gone_ += a.channel->counters().tx_rejected.load(std::memory_order_relaxed);
  for (uint32_t holder : a.sessions)
    if (Session* s = session(holder)) s->apps.erase(a.id);
  apps_.erase(it);
}

void ControlPlane::close_session(uint32_t session_id) {
  std::lock_guard lock(mutex_);
  Session* s = session(session_id);
  if (s == nullptr) return;
  const std::set<uint32_t> apps = s->apps;
  for (uint32_t id : apps) detach_session(*s, id);
  sessions_.erase(session_id);
}

void ControlPlane::tick(uint64_t monotonic_ns) {
  std::lock_guard lock(mutex_);
  for (auto& [id, a] : apps_) a->channel->heartbeat(monotonic_ns);
}

size_t ControlPlane::session_count() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

size_t ControlPlane::app_count() const {
  std::lock_guard lock(mutex_);
  return apps_.size();
}

size_t ControlPlane::socket_count() const {
  std::lock_guard lock(mutex_);
  return sockets_.size();
}

DaemonStatus ControlPlane::daemon_status() const {
  std::lock_guard lock(mutex_);
  return daemon_status_locked();
}

DaemonStatus ControlPlane::daemon_status_locked() const {
  DaemonStatus d{};
  d.pid = static_cast<uint32_t>(getpid());
  d.sessions = static_cast<uint32_t>(sessions_.size());
  d.apps = static_cast<uint32_t>(apps_.size());
  d.sockets = static_cast<uint32_t>(sockets_.size());
  d.epoch = config_.epoch;
  d.tx_rejected = tx_rejected_gone_;
  for (const auto& [id, a] : apps_)
    d.tx_rejected += a->channel->counters().tx_rejected.load(std::memory_order_relaxed);
  d.engines = static_cast<uint32_t>(backend_.engine_status().size());
  d.max_payload = slot_payload_;
  return d;
}

std::vector<AppStatus> ControlPlane::app_status() const {
  std::lock_guard lock(mutex_);
  return app_status_locked();
}

std::vector<AppStatus> ControlPlane::app_status_locked() const {
  std::vector<AppStatus> out;
  for (const auto& [id, a] : apps_) {
    AppStatus st{};
    st.app_id = a->id;
    st.pid = static_cast<uint32_t>(a->creator.pid);
    st.uid = static_cast<uint32_t>(a->creator.uid);
    st.sessions = static_cast<uint32_t>(a->sessions.size());
    put_name(st.name, sizeof(st.name), a->name);
    st.weight = a->weight;
    st.queue_bound = a->channel->queue_bound();
    st.rx_entries = a->channel->geometry().rx_entries;
    st.rx_depth = a->channel->rx_depth();
    st.sockets = static_cast<uint32_t>(a->sockets.size());
    const AppChannelCounters& c = a->channel->counters();
    st.delivered = c.delivered.load(std::memory_order_relaxed);
    st.drops[kDropRingFull] = c.ring_full.load(std::memory_order_relaxed);
    st.tx_sent = c.tx_sent.load(std::memory_order_relaxed);
    st.tx_rejected = c.tx_rejected.load(std::memory_order_relaxed);
    st.tx_dropped = c.tx_dropped.load(std::memory_order_relaxed);
    const BackendAppCounters bc = backend_.app_counters(a->backend);
    st.charged_ns = bc.charged_ns;
    st.skipped_full = bc.skipped_full;
    for (uint32_t k : a->sockets) {
      for (const auto& h : sockets_.at(k)->handles) {
        const BackendSocketCounters sc = backend_.socket_counters(h.socket);
        st.drops[kDropShed] += sc.shed;
        st.drops[kDropKernelRing] += sc.kernel_ring_full;
        st.drops[kDropInvalid] += sc.invalid;
      }
    }
    out.push_back(st);
  }
  return out;
}

std::vector<SocketStatus> ControlPlane::socket_status() const {
  std::lock_guard lock(mutex_);
  return socket_status_locked();
}

std::vector<SocketStatus> ControlPlane::socket_status_locked() const {
  std::vector<SocketStatus> out;
  for (const auto& [id, k] : sockets_) {
    SocketStatus st{};
    SocketReply r{};
    fill_reply(*k, &r);
    st.socket_id = k->id;
    st.app_id = k->app;
    st.flags = r.flags;
    st.refs = static_cast<uint32_t>(k->holders.size());
    st.family = r.family;
    put_name(st.ifname, sizeof(st.ifname), k->info.bound_device);
    std::memcpy(st.local_addr, r.local_addr, 16);
    std::memcpy(st.remote_addr, r.remote_addr, 16);
    st.local_port = r.local_port;
    st.remote_port = r.remote_port;
    st.inode = k->info.inode;
    for (const auto& h : k->handles) {
      const BackendSocketCounters sc = backend_.socket_counters(h.socket);
      st.delivered += sc.delivered;
      st.delivered_bytes += sc.delivered_bytes;
      st.invalid += sc.invalid;
      st.sent += sc.sent;
      st.rx_ring_full += sc.kernel_ring_full;
    }
    out.push_back(st);
  }
  return out;
}

std::vector<AppLabels> ControlPlane::app_labels() const {
  std::lock_guard lock(mutex_);
  std::vector<AppLabels> out;
  for (const auto& [id, a] : apps_)
    out.push_back(AppLabels{a->id, a->name, static_cast<uint32_t>(a->creator.pid),
                            static_cast<uint32_t>(a->creator.uid)});
  return out;
}

void ControlPlane::query(const Message& m, Replier& out) {
  uint32_t records = 0;
  auto emit = [&](MsgType type, const auto& record) {
    out.reply(type, record);
    ++records;
  };
  if (m.type == MsgType::QueryStatus) {
    emit(MsgType::DaemonStatusRecord, daemon_status_locked());
    for (const auto& e : backend_.engine_status()) emit(MsgType::EngineStatusRecord, e);
  } else if (m.type == MsgType::QueryApps) {
    for (const auto& a : app_status_locked()) emit(MsgType::AppStatusRecord, a);
  } else {
    for (const auto& k : socket_status_locked()) emit(MsgType::SocketStatusRecord, k);
  }
  out.reply(MsgType::QueryEnd, QueryEndReply{records, 0});
}

}  // namespace lrp::service
