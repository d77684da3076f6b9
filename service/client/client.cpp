#include "service/client/client.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "service/shm/doorbell.h"
#include "service/wire/channel.h"

namespace lrp::service {

// One application's binding to one lrpd instance: its mapped region and
// doorbell, and which lrpd socket id is which of the caller's sockets.
struct Attachment {
  std::unique_ptr<Region> region;
  UniqueFd doorbell;
  uint32_t app_id = 0;
  uint64_t secret = 0;
  uint64_t generation = 0;         // tells attachments apart (client-wide counter)
  std::atomic<uint32_t> owner{0};  // this process's session id: the ring entries' owner tag
  std::atomic<bool> dead{false};   // the lrpd that made it is gone
  // lrpd socket id -> ServiceSocket handle; replaced whole (copy on write).
  std::shared_ptr<const std::vector<std::pair<uint32_t, uint32_t>>> sockets =
      std::make_shared<std::vector<std::pair<uint32_t, uint32_t>>>();
};

namespace {

constexpr uint64_t kTokenPosMask = (uint64_t{1} << 48) - 1;
std::atomic<uint64_t> g_fork_generation{0};
std::atomic<uint64_t> g_attachment_generation{1};
std::atomic<uint32_t> g_socket_handles{1};

int64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

std::string program_name() {
  std::ifstream comm("/proc/self/comm");
  std::string name;
  std::getline(comm, name);
  return name.empty() ? "client" : name;
}

bool hangup(const Error& e) {
  return e.code == ECONNRESET || e.code == EPIPE || e.code == ENOTCONN || e.code == ETIMEDOUT;
}

IpAddress address_of(const uint8_t* bytes) {
  IpAddress::Bytes b;
  std::memcpy(b.data(), bytes, 16);
  return IpAddress(b);
}

}  // namespace

// Every live client, for the fork handlers: they hold every client's locks
// across fork(), so the child never inherits a lock some other thread held.
struct ServiceClient::Registry {
  std::mutex mutex;
  std::vector<ServiceClient*> clients;

  static Registry& get() {
    static Registry* r = [] {
      auto* reg = new Registry();
      pthread_atfork(&Registry::prepare, &Registry::parent, &Registry::child);
      return reg;
    }();
    return *r;
  }
  static void prepare() {
    Registry& r = get();
    r.mutex.lock();
    for (ServiceClient* c : r.clients) {
      c->control_mutex_.lock();
      for (ServiceApp* a : c->app_ptrs_) a->attachment_mutex_.lock();
    }
  }
  static void unlock_all() {
    Registry& r = get();
    for (ServiceClient* c : r.clients) {
      for (ServiceApp* a : c->app_ptrs_) a->attachment_mutex_.unlock();
      c->control_mutex_.unlock();
    }
    r.mutex.unlock();
  }
  static void parent() { unlock_all(); }
  static void child() {
    g_fork_generation.fetch_add(1, std::memory_order_relaxed);
    unlock_all();
  }
};

std::string default_socket_path() {
  const char* env = std::getenv(kSocketEnv);
  return env != nullptr && *env != '\0' ? env : kDefaultSocketPath;
}

RxDatagram::~RxDatagram() = default;

// ------------------------------------------------------------- client ----

Result<std::shared_ptr<ServiceClient>> ServiceClient::connect(const ClientConfig& config) {
  std::shared_ptr<ServiceClient> c(new ServiceClient(config));
  if (c->config_.socket_path.empty()) c->config_.socket_path = default_socket_path();
  if (c->config_.name.empty()) c->config_.name = program_name();
  c->fork_generation_ = g_fork_generation.load(std::memory_order_relaxed);
  c->wake_monitor_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  {
    std::lock_guard lock(c->control_mutex_);
    LRP_TRY(c->open_connection());
  }
  {
    Registry& r = Registry::get();
    std::lock_guard lock(r.mutex);
    r.clients.push_back(c.get());
  }
  c->ensure_monitor();
  return c;
}

ServiceClient::~ServiceClient() {
  {
    Registry& r = Registry::get();
    std::lock_guard lock(r.mutex);
    std::erase(r.clients, this);
  }
  stopping_.store(true);
  const uint64_t one = 1;
  (void)!write(wake_monitor_.get(), &one, sizeof(one));
  // A monitor thread started in another process (before a fork) is not ours to join.
  if (monitor_ && monitor_pid_ == getpid() && monitor_->joinable()) monitor_->join();
  if (monitor_ && monitor_pid_ != getpid()) (void)monitor_.release();
}

uint32_t ServiceClient::session_id() const {
  std::lock_guard lock(control_mutex_);
  return up() ? session_id_ : 0;
}

uint32_t ServiceClient::daemon_pid() const {
  std::lock_guard lock(control_mutex_);
  return daemon_pid_;
}

uint32_t ServiceClient::max_payload() const {
  std::lock_guard lock(control_mutex_);
  return max_payload_;
}

Status ServiceClient::open_connection() {
  control_.reset();
  up_.store(false, std::memory_order_release);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& path = config_.socket_path;
  if (path.size() >= sizeof(addr.sun_path))
    return make_error(ENAMETOOLONG, "lrpd socket path '" + path + "'");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errno_error("create a socket for lrpd");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ECONNREFUSED)
      return make_error(err, "lrpd is not running on " + path +
                                 " (start it with 'lrpd --iface IF' as root, or 'systemctl "
                                 "start lrpd'; LRP_SOCKET names another socket)");
    return make_error(err, "connect to lrpd on " + path);
  }
  control_ = std::move(fd);
  HelloRequest hello{};
  put_name(hello.name, sizeof(hello.name), config_.name);
  hello.weight = config_.weight;
  hello.pid = static_cast<uint32_t>(getpid());
  auto reply = request(MsgType::Hello, hello);
  if (!reply) {
    control_.reset();
    return reply.error();
  }
  HelloReply r{};
  if (reply->type != MsgType::HelloReply || !reply->read(&r)) {
    control_.reset();
    return error_from(reply.value(), "hello to lrpd");
  }
  session_id_ = r.session_id;
  daemon_pid_ = r.daemon_pid;
  max_payload_ = r.max_payload;
  up_.store(true, std::memory_order_release);
  return {};
}

Result<Message> ServiceClient::request(MsgType type, const void* body, size_t size,
                                       std::span<const int> fds) {
  if (!control_) return make_error(ENOTCONN, "lrpd is down");
  const uint32_t seq = ++seq_;
  Status st = send_message(control_.get(), type, seq, body, size, fds);
  if (!st.ok()) return st.error();
  const int64_t deadline = monotonic_ms() + config_.reply_timeout_ms;
  for (;;) {
    pollfd p{control_.get(), POLLIN, 0};
    const int64_t left = deadline - monotonic_ms();
    if (left <= 0) return make_error(ETIMEDOUT, "lrpd did not answer");
    const int n = poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno != EINTR) return errno_error("wait for lrpd");
    if (n <= 0) continue;
    auto m = receive_message(control_.get());
    if (!m) {
      if (m.error().code == EAGAIN) continue;
      return m.error();
    }
    if (m->seq != seq) return make_error(EPROTO, "lrpd answered another request");
    return m;
  }
}

Result<std::vector<Message>> ServiceClient::query(MsgType type) {
  check_fork();
  std::lock_guard lock(control_mutex_);
  std::vector<Message> out;
  auto first = request(type, nullptr, 0);
  if (!first) return first.error();
  Message m = std::move(first.value());
  for (;;) {
    if (m.type == MsgType::Error) return error_from(m, "query lrpd");
    if (m.type == MsgType::QueryEnd) return out;
    out.push_back(std::move(m));
    pollfd p{control_.get(), POLLIN, 0};
    if (poll(&p, 1, config_.reply_timeout_ms) <= 0)
      return make_error(ETIMEDOUT, "lrpd stopped answering a query");
    auto next = receive_message(control_.get());
    if (!next) return next.error();
    m = std::move(next.value());
  }
}

Result<std::shared_ptr<ServiceApp>> ServiceClient::create_app(const AppConfig& config) {
  check_fork();
  std::shared_ptr<ServiceApp> app(new ServiceApp(shared_from_this(), config));
  if (!app->epoll_fd_) return errno_error("create an application's ready fd");
  std::lock_guard lock(control_mutex_);
  if (up()) {
    Status st = app->create_remote();
    if (!st.ok()) {
      if (!hangup(st.error())) return st.error();
      mark_down();
    }
  }
  apps_.push_back(app);
  app_ptrs_.push_back(app.get());
  return app;
}

void ServiceClient::mark_down() {
  // The attachments first: whoever sees the client down sees them dead.
  for (ServiceApp* a : app_ptrs_) {
    if (auto att = a->attachment()) att->dead.store(true, std::memory_order_release);
    a->detach_doorbell();
  }
  up_.store(false, std::memory_order_release);
  const uint64_t one = 1;
  (void)!write(wake_monitor_.get(), &one, sizeof(one));
}

// After connecting anew: every application gets a region again (a fresh
// one from a new lrpd; after a fork, the same one joined by its secret),
// and every socket is bound again with the same kernel socket.
Status ServiceClient::attach_all(bool after_fork) {
  std::vector<std::shared_ptr<ServiceApp>> apps;
  for (auto& w : apps_)
    if (auto a = w.lock()) apps.push_back(std::move(a));
  for (auto& app : apps) {
    Status st = after_fork ? app->join_remote() : app->create_remote();
    if (!st.ok()) return st;
    std::vector<std::shared_ptr<ServiceSocket>> sockets;
    for (auto& w : app->sockets_)
      if (auto k = w.lock()) sockets.push_back(std::move(k));
    for (auto& k : sockets) {
      if (k->closed_) continue;
      LRP_TRY(k->bind_remote());
      for (const auto& g : k->groups_) {
        GroupRequest req{};
        std::memcpy(req.group, g.bytes().data(), 16);
        req.socket_id = k->remote_id_.load() & 0xffffffffu;
        auto r = request(MsgType::JoinGroup, req);
        if (!r) return r.error();
      }
    }
  }
  return {};
}

void ServiceClient::ensure_monitor() {
  if (!config_.reconnect) return;
  if (monitor_ && monitor_pid_ == getpid()) return;
  if (monitor_) (void)monitor_.release();  // the parent's thread, not in this process
  monitor_pid_ = getpid();
  monitor_ = std::make_unique<std::thread>([this] {
    if (config_.on_background_thread) config_.on_background_thread();
    monitor_loop();
  });
}

// Watches the control connection for a hang-up and, while lrpd is down,
// tries to reconnect and re-attach every reconnect_interval_ms.
void ServiceClient::monitor_loop() {
  while (!stopping_.load()) {
    int control_fd = -1;
    {
      std::lock_guard lock(control_mutex_);
      if (!up() || !control_) {
        control_.reset();
        Status st = open_connection();
        if (st.ok()) st = attach_all(false);
        if (st.ok()) {
          reattachments_.fetch_add(1, std::memory_order_relaxed);
        } else if (up()) {
          mark_down();
          control_.reset();
        }
      }
      if (up()) control_fd = control_.get();
    }
    pollfd p[2] = {{wake_monitor_.get(), POLLIN, 0}, {control_fd, POLLRDHUP, 0}};
    const int n =
        poll(p, control_fd >= 0 ? 2 : 1, control_fd >= 0 ? -1 : config_.reconnect_interval_ms);
    if (n > 0 && (p[0].revents & POLLIN) != 0) {
      uint64_t v;
      (void)!read(wake_monitor_.get(), &v, sizeof(v));
    }
    if (control_fd >= 0 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
      std::lock_guard lock(control_mutex_);
      if (control_.get() == control_fd) {
        mark_down();
        control_.reset();
      }
    }
  }
}

void ServiceClient::check_fork() {
  if (g_fork_generation.load(std::memory_order_relaxed) == fork_generation_) return;
  after_fork();
}

// In a child after fork: the control connection is the parent's (shared),
// so the child opens its own and joins what it inherited.
void ServiceClient::after_fork() {
  std::lock_guard lock(control_mutex_);
  const uint64_t gen = g_fork_generation.load(std::memory_order_relaxed);
  if (gen == fork_generation_) return;
  fork_generation_ = gen;
  control_.reset();  // our copy only: the parent's connection lives on
  wake_monitor_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  // Until re-joined, entries this process claims carry no owner tag.
  for (ServiceApp* a : app_ptrs_)
    if (auto att = a->attachment()) att->owner.store(0, std::memory_order_relaxed);
  Status st = open_connection();
  if (st.ok()) st = attach_all(true);
  if (!st.ok()) {
    mark_down();
    control_.reset();
  }
  ensure_monitor();
}

// ---------------------------------------------------------------- app ----

ServiceApp::ServiceApp(std::shared_ptr<ServiceClient> client, const AppConfig& config)
    : client_(std::move(client)), config_(config) {
  epoll_fd_.reset(epoll_create1(EPOLL_CLOEXEC));
}

ServiceApp::~ServiceApp() {
  std::lock_guard lock(client_->control_mutex_);
  std::erase(client_->app_ptrs_, this);
  std::erase_if(client_->apps_, [&](const std::weak_ptr<ServiceApp>& w) { return w.expired(); });
  // This process lets go of the application; lrpd removes it when no other
  // process holds it.
  if (client_->up() && g_fork_generation.load() == client_->fork_generation_ && attachment_ &&
      !attachment_->dead.load()) {
    SocketRequest req{attachment_->app_id, 0};
    (void)client_->request(MsgType::LeaveApp, req);
  }
}

std::shared_ptr<Attachment> ServiceApp::attachment() const {
  std::lock_guard lock(attachment_mutex_);
  return attachment_;
}

uint32_t ServiceApp::id() const {
  auto a = attachment();
  return a ? a->app_id : 0;
}

uint32_t ServiceApp::rx_depth() const {
  auto a = attachment();
  return a ? a->region->rx().occupancy() : 0;
}

uint64_t ServiceApp::tx_rejected() const {
  auto a = attachment();
  return a ? a->region->header().tx_rejected.load(std::memory_order_relaxed) : 0;
}

uint64_t ServiceApp::rx_ring_full() const {
  auto a = attachment();
  return a ? a->region->header().rx_ring_full.load(std::memory_order_relaxed) : 0;
}

static Result<std::shared_ptr<Attachment>> attachment_from(const AppGrant& g,
                                                           std::vector<UniqueFd>& fds,
                                                           uint32_t owner) {
  if (fds.size() != 2) return make_error(EPROTO, "lrpd sent an application without its memory");
  auto region = Region::map(std::move(fds[0]), g.region_size);
  if (!region) return region.error();
  auto a = std::make_shared<Attachment>();
  a->region = std::move(region.value());
  a->doorbell = std::move(fds[1]);
  a->app_id = g.app_id;
  a->secret = g.secret;
  a->generation = g_attachment_generation.fetch_add(1, std::memory_order_relaxed);
  a->owner.store(owner, std::memory_order_relaxed);
  return a;
}

Status ServiceApp::create_remote() {
  ServiceClient& c = *client_;
  CreateAppRequest req{};
  put_name(req.name, sizeof(req.name), config_.name);
  req.weight = config_.weight;
  req.queue_bound = config_.queue_bound;
  req.held_cap = config_.held_cap;
  req.rx_entries = config_.rx_entries;
  req.tx_entries = config_.tx_entries;
  auto reply = c.request(MsgType::CreateApp, req);
  if (!reply) return reply.error();
  AppGrant g{};
  if (reply->type != MsgType::AppGrantReply || !reply->read(&g))
    return error_from(reply.value(), "create an lrpd application");
  auto a = attachment_from(g, reply->fds, c.session_id_);
  if (!a) return a.error();
  install(std::move(a.value()));
  return {};
}

Status ServiceApp::join_remote() {
  ServiceClient& c = *client_;
  auto current = attachment();
  if (current && !current->dead.load()) {
    JoinAppRequest req{};
    req.app_id = current->app_id;
    req.secret = current->secret;
    auto reply = c.request(MsgType::JoinApp, req);
    if (!reply) return reply.error();
    if (reply->type == MsgType::AppGrantReply) {
      // The region is the one inherited: keep the mapping, only the owner
      // tag changes to this process's session.
      current->owner.store(c.session_id_, std::memory_order_relaxed);
      return {};
    }
    Error e = error_from(reply.value(), "join the inherited application");
    if (e.code != ENOENT) return e;
  }
  // The application ended with the parent's connection: a new one.
  return create_remote();
}

void ServiceApp::install(std::shared_ptr<Attachment> a) {
  // Keep the sockets' handles only for the new attachment: ids are re-learnt on bind.
  std::lock_guard lock(attachment_mutex_);
  if (epoll_doorbell_ >= 0) epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, epoll_doorbell_, nullptr);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = a->doorbell.get();
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, a->doorbell.get(), &ev);
  epoll_doorbell_ = a->doorbell.get();
  // A caller may wait on the ready fd before it ever receives (an event
  // loop that polls first): the first delivery must ring.
  a->region->rx().set_consumer_waiting();
  if (attachment_ != nullptr) {
    retired_.push_back(std::move(attachment_));
    if (retired_.size() > 4) retired_.erase(retired_.begin());
  }
  attachment_ = std::move(a);
}

void ServiceApp::detach_doorbell() {
  std::lock_guard lock(attachment_mutex_);
  if (epoll_doorbell_ >= 0) epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, epoll_doorbell_, nullptr);
  epoll_doorbell_ = -1;
}

Result<std::shared_ptr<ServiceSocket>> ServiceApp::bind(int kernel_fd) {
  client_->check_fork();
  UniqueFd dup_fd(fcntl(kernel_fd, F_DUPFD_CLOEXEC, 0));
  if (!dup_fd) return errno_error("duplicate the socket for lrpd");
  std::shared_ptr<ServiceSocket> k(
      new ServiceSocket(shared_from_this(), std::move(dup_fd),
                        g_socket_handles.fetch_add(1, std::memory_order_relaxed)));
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(k->kernel_.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return errno_error("getsockname");
  auto local = Endpoint::from_sockaddr(ss);
  if (!local) return local.error();
  k->local_ = local.value();
  std::lock_guard lock(client_->control_mutex_);
  if (client_->up()) {
    Status st = k->bind_remote();
    if (!st.ok()) {
      if (!hangup(st.error())) return st.error();
      client_->mark_down();
    }
  }
  sockets_.push_back(k);
  {
    std::lock_guard alock(attachment_mutex_);
    auto refs =
        std::make_shared<std::vector<LocalRef>>(locals_ ? *locals_ : std::vector<LocalRef>{});
    refs->push_back(LocalRef{k->handle_, k->local_});
    locals_ = refs;
  }
  return k;
}

uint32_t ServiceApp::handle_for(const Attachment& a, uint32_t socket_id) const {
  for (const auto& [id, handle] : *a.sockets)
    if (id == socket_id) return handle;
  return 0;
}

// A datagram lrpd delivered before it knew the socket's id (the first ones
// after a bind): the socket bound to where it was sent.
uint32_t ServiceApp::handle_by_destination(const Endpoint& dst) const {
  std::shared_ptr<const std::vector<LocalRef>> refs;
  {
    std::lock_guard lock(attachment_mutex_);
    refs = locals_;
  }
  if (!refs) return 0;
  uint32_t wildcard = 0;
  for (const LocalRef& r : *refs) {
    if (r.local.port != dst.port) continue;
    if (r.local.addr == dst.addr) return r.handle;
    if (r.local.addr.is_any() &&
        (r.local.addr.is_v4() == dst.addr.is_v4() || !r.local.addr.is_v4()))
      wildcard = r.handle;
  }
  return wildcard;
}

bool ServiceApp::take_from_ring(Attachment& a, const std::shared_ptr<Attachment>& ref,
                                RxDatagram* out) {
  Ring& rx = a.region->rx();
  RingSlot s;
  if (!rx.claim_consume(&s, a.owner.load(std::memory_order_relaxed))) return false;
  const EntryHeader& e = *s.entry;
  out->source = Endpoint{address_of(e.src_addr), e.src_port};
  out->destination = Endpoint{address_of(e.dst_addr), e.dst_port};
  out->socket = handle_for(a, e.socket_id);
  if (out->socket == 0) out->socket = handle_by_destination(out->destination);
  const uint32_t len = std::min(e.length, rx.slot_payload());
  out->payload = std::span<const uint8_t>(s.payload, len);
  out->datagram_length = e.datagram_length;
  out->truncated = (e.flags & kEntryTruncated) != 0;
  out->time_ns = e.time_ns;
  out->tos = e.tos;
  out->ttl = e.ttl;
  out->ifindex = e.ifindex;
  out->attachment_ = ref;
  out->slot_ = s;
  out->token_ = ((a.generation & 0xffff) << 48) | (s.pos & kTokenPosMask);
  return true;
}

// Sleeps until the doorbell rings. The
// doorbell is drained before the waiting flag goes up and the ring is looked
// at again, so a datagram published in between is never slept through.
void ServiceApp::wait(Attachment* a, int timeout_ms) {
  epoll_event ev[8];
  const int n = epoll_wait(epoll_fd_.get(), ev, 8, timeout_ms);
  if (a == nullptr) return;
  for (int i = 0; i < n; ++i) {
    if (ev[i].data.fd != a->doorbell.get()) continue;
    if (drain_doorbell(a->doorbell.get()) == DoorbellState::Closed) {
      // lrpd's end is gone: lrpd died.
      a->dead.store(true, std::memory_order_release);
      detach_doorbell();
      const uint64_t one = 1;
      (void)!write(client_->wake_monitor_.get(), &one, sizeof(one));
    }
  }
}

// lrpd stopped delivering for lack of room: take its flag, then ring.
static void wake_daemon_for_room(Attachment& a) {
  if (a.dead.load(std::memory_order_relaxed)) return;
  if (a.region->rx().take_producer_waiting()) ring_doorbell(a.doorbell.get());
}

Result<size_t> ServiceApp::receive(std::span<RxDatagram> out, int timeout_ms) {
  client_->check_fork();
  if (out.empty()) return size_t{0};
  const int64_t deadline = timeout_ms > 0 ? monotonic_ms() + timeout_ms : 0;
  for (;;) {
    auto a = attachment();
    size_t n = 0;
    if (a) {
      while (n < out.size() && take_from_ring(*a, a, &out[n])) ++n;
    }
    if (n > 0) return n;
    if (a && !a->dead.load(std::memory_order_acquire)) {
      // Going to sleep (or returning empty to a caller who will poll the
      // ready fd): clear the doorbell, raise the flag, look again.
      if (drain_doorbell(a->doorbell.get()) == DoorbellState::Closed) {
        a->dead.store(true, std::memory_order_release);
        detach_doorbell();
      }
      a->region->rx().set_consumer_waiting();
      while (n < out.size() && take_from_ring(*a, a, &out[n])) ++n;
      if (n > 0) return n;
    }
    if (timeout_ms == 0) return size_t{0};
    int wait_ms = 100;
    if (timeout_ms > 0) {
      const int64_t left = deadline - monotonic_ms();
      if (left <= 0) return size_t{0};
      wait_ms = static_cast<int>(std::min<int64_t>(left, 100));
    }
    wait(a.get(), wait_ms);
  }
}

void ServiceApp::done(RxDatagram& d) {
  if (d.attachment_) {
    Ring& rx = d.attachment_->region->rx();
    rx.release(d.slot_);
    wake_daemon_for_room(*d.attachment_);
    d.attachment_.reset();
  }
  d.payload = {};
}

void ServiceApp::done(std::span<RxDatagram> batch) {
  Attachment* last = nullptr;
  for (auto& d : batch) {
    if (d.attachment_) {
      d.attachment_->region->rx().release(d.slot_);
      last = d.attachment_.get();
    }
  }
  // One look at lrpd's flag for the whole batch.
  if (last != nullptr) wake_daemon_for_room(*last);
  for (auto& d : batch) {
    d.attachment_.reset();
    d.payload = {};
  }
}

void ServiceApp::done_token(uint64_t token) {
  if (token == 0) return;
  const uint64_t generation = token >> 48;
  std::shared_ptr<Attachment> a;
  {
    std::lock_guard lock(attachment_mutex_);
    if (attachment_ && (attachment_->generation & 0xffff) == generation) a = attachment_;
    for (const auto& r : retired_)
      if ((r->generation & 0xffff) == generation) a = r;
  }
  if (!a) return;
  Ring& rx = a->region->rx();
  // The position's high bits beyond the token are those of the ring's
  // current lap: an entry is never held across 2^48 positions.
  const uint64_t head = a->region->header().rx.head.load(std::memory_order_relaxed);
  uint64_t pos = (head & ~kTokenPosMask) | (token & kTokenPosMask);
  if (pos > head) pos -= kTokenPosMask + 1;
  rx.release(rx.slot_at(pos));
  wake_daemon_for_room(*a);
}

Result<RxInfo> ServiceApp::receive_copy(std::span<uint8_t> buffer, int timeout_ms) {
  client_->check_fork();
  const int64_t deadline = timeout_ms > 0 ? monotonic_ms() + timeout_ms : 0;
  RxInfo info;
  for (;;) {
    auto a = attachment();
    RxDatagram d;
    bool got = a && take_from_ring(*a, a, &d);
    if (!got && a && !a->dead.load(std::memory_order_acquire)) {
      if (drain_doorbell(a->doorbell.get()) == DoorbellState::Closed) {
        a->dead.store(true, std::memory_order_release);
        detach_doorbell();
      }
      a->region->rx().set_consumer_waiting();
      got = take_from_ring(*a, a, &d);
    }
    if (got) {
      info.datagram_size = d.datagram_length;
      info.size = std::min(d.payload.size(), buffer.size());
      info.truncated = d.truncated || d.payload.size() > buffer.size();
      info.socket = d.socket;
      info.source = d.source;
      info.destination = d.destination;
      std::memcpy(buffer.data(), d.payload.data(), info.size);
      done(d);
      return info;
    }
    if (timeout_ms == 0) return make_error(EAGAIN, "nothing received");
    int wait_ms = 100;
    if (timeout_ms > 0) {
      const int64_t left = deadline - monotonic_ms();
      if (left <= 0) return make_error(EAGAIN, "nothing received in time");
      wait_ms = static_cast<int>(std::min<int64_t>(left, 100));
    }
    wait(a.get(), wait_ms);
  }
}

Status ServiceApp::set_weight(uint32_t weight) {
  client_->check_fork();
  if (weight == 0 || weight > 10000) return make_error(EINVAL, "weight must be in 1..10000");
  std::lock_guard lock(client_->control_mutex_);
  config_.weight = weight;  // also applied on re-attach
  auto a = attachment();
  if (!client_->up() || !a) return {};
  SetOptionRequest req{a->app_id, static_cast<uint16_t>(OptionName::AppWeight), 0, weight};
  auto reply = client_->request(MsgType::SetOption, req);
  if (!reply) return reply.error();
  if (reply->type != MsgType::Ok) return error_from(reply.value(), "set the weight");
  return {};
}

Status ServiceApp::set_queue_bound(uint32_t bound) {
  client_->check_fork();
  std::lock_guard lock(client_->control_mutex_);
  auto a = attachment();
  if (!client_->up() || !a) {
    config_.queue_bound = bound;
    return {};
  }
  SetOptionRequest req{a->app_id, static_cast<uint16_t>(OptionName::AppQueueBound), 0, bound};
  auto reply = client_->request(MsgType::SetOption, req);
  if (!reply) return reply.error();
  if (reply->type != MsgType::Ok) return error_from(reply.value(), "set the receive queue bound");
  config_.queue_bound = bound;
  return {};
}

// ------------------------------------------------------------- socket ----

ServiceSocket::ServiceSocket(std::shared_ptr<ServiceApp> app, UniqueFd kernel, uint32_t handle)
    : app_(std::move(app)), kernel_(std::move(kernel)), handle_(handle) {}

ServiceSocket::~ServiceSocket() {
  (void)close();
}

bool ServiceSocket::attached() const {
  auto a = app_->attachment();
  return a && !a->dead.load(std::memory_order_acquire) &&
         (remote_id_.load(std::memory_order_acquire) >> 32) == a->generation;
}

std::optional<Endpoint> ServiceSocket::remote() const {
  std::lock_guard lock(app_->client_->control_mutex_);
  return remote_;
}

Status ServiceSocket::bind_remote() {
  ServiceClient& c = *app_->client_;
  auto a = app_->attachment();
  if (!a) return make_error(ENOTCONN, "the application is not attached to lrpd");
  BindRequest req{a->app_id, kBindNone};
  const int fds[1] = {kernel_.get()};
  auto reply = c.request(MsgType::Bind, req, fds);
  if (!reply) return reply.error();
  SocketReply r{};
  if (reply->type != MsgType::SocketReply || !reply->read(&r))
    return error_from(reply.value(), "attach udp " + local_.to_string() + " to lrpd");
  if (r.app_id != a->app_id) {
    // The kernel socket was already served in another application (it was
    // passed to this process): that application is the one it receives in.
    if ((r.flags & kSocketAppGranted) == 0)
      return make_error(EPROTO, "lrpd moved the socket without granting its application");
    auto joined = attachment_from(r.grant, reply->fds, c.session_id_);
    if (!joined) return joined.error();
    app_->install(std::move(joined.value()));
    a = app_->attachment();
  }
  {
    std::lock_guard lock(app_->attachment_mutex_);
    auto map = std::make_shared<std::vector<std::pair<uint32_t, uint32_t>>>(*a->sockets);
    std::erase_if(*map, [&](const auto& p) { return p.second == handle_; });
    map->emplace_back(r.socket_id, handle_);
    a->sockets = map;
  }
  if ((r.flags & kSocketConnected) != 0) {
    remote_ = Endpoint{address_of(r.remote_addr), r.remote_port};
  } else {
    remote_.reset();
  }
  remote_id_.store((a->generation << 32) | r.socket_id, std::memory_order_release);
  return {};
}

Status ServiceSocket::send_to(const Endpoint& to, std::span<const uint8_t> payload,
                              const IpAddress* from) {
  app_->client_->check_fork();
  if (closed_) return make_error(EBADF, "send on a closed socket");
  auto a = app_->attachment();
  const uint64_t binding = remote_id_.load(std::memory_order_acquire);
  if (!a || a->dead.load(std::memory_order_acquire) || (binding >> 32) != a->generation)
    return make_error(ENOTCONN,
                      "send to " + to.to_string() +
                          ": lrpd does not serve the socket now (send on the kernel socket)");
  Ring& tx = a->region->tx();
  if (payload.size() > tx.slot_payload())
    return make_error(EMSGSIZE, "datagram of " + std::to_string(payload.size()) +
                                    " bytes, lrpd carries at most " +
                                    std::to_string(tx.slot_payload()));
  RingSlot s;
  if (!tx.claim_produce(&s, a->owner.load(std::memory_order_relaxed))) {
    tx.set_producer_waiting();
    if (!tx.claim_produce(&s, a->owner.load(std::memory_order_relaxed)))
      return make_error(EAGAIN, "lrpd's transmit ring is full");
  }
  EntryHeader& e = *s.entry;
  e.socket_id = static_cast<uint32_t>(binding & 0xffffffffu);
  e.length = static_cast<uint32_t>(payload.size());
  e.datagram_length = e.length;
  std::memcpy(e.dst_addr, to.addr.bytes().data(), 16);
  e.dst_port = to.port;
  e.src_port = 0;
  e.family = to.addr.is_v4() ? 4 : 6;
  e.flags = 0;
  if (from != nullptr && !from->is_any()) {
    std::memcpy(e.src_addr, from->bytes().data(), 16);
    e.flags = kEntryHasSource;
  }
  std::memcpy(s.payload, payload.data(), payload.size());
  tx.publish(s);
  if (tx.take_consumer_waiting()) ring_doorbell(a->doorbell.get());
  return {};
}

Status ServiceSocket::connect() {
  app_->client_->check_fork();
  if (closed_) return make_error(EBADF, "connect a closed socket");
  std::lock_guard lock(app_->client_->control_mutex_);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(kernel_.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    if (auto l = Endpoint::from_sockaddr(ss)) local_ = l.value();
  if (!app_->client_->up() || !attached()) return {};  // picked up when re-attached
  SocketRequest req{static_cast<uint32_t>(remote_id_.load() & 0xffffffffu), 0};
  auto reply = app_->client_->request(MsgType::Connect, req);
  if (!reply) return reply.error();
  SocketReply r{};
  if (reply->type != MsgType::SocketReply || !reply->read(&r))
    return error_from(reply.value(), "connect on lrpd");
  if ((r.flags & kSocketConnected) != 0) {
    remote_ = Endpoint{address_of(r.remote_addr), r.remote_port};
  } else {
    remote_.reset();
  }
  return {};
}

Status ServiceSocket::join_group(const IpAddress& group) {
  app_->client_->check_fork();
  std::lock_guard lock(app_->client_->control_mutex_);
  if (closed_) return make_error(EBADF, "join a group on a closed socket");
  if (app_->client_->up() && attached()) {
    GroupRequest req{};
    req.socket_id = static_cast<uint32_t>(remote_id_.load() & 0xffffffffu);
    std::memcpy(req.group, group.bytes().data(), 16);
    auto reply = app_->client_->request(MsgType::JoinGroup, req);
    if (!reply) return reply.error();
    if (reply->type != MsgType::Ok) return error_from(reply.value(), "join " + group.to_string());
  }
  groups_.push_back(group);
  return {};
}

Status ServiceSocket::leave_group(const IpAddress& group) {
  app_->client_->check_fork();
  std::lock_guard lock(app_->client_->control_mutex_);
  auto it = std::find(groups_.begin(), groups_.end(), group);
  if (it == groups_.end()) return make_error(EADDRNOTAVAIL, "not a member of " + group.to_string());
  groups_.erase(it);
  if (app_->client_->up() && attached()) {
    GroupRequest req{};
    req.socket_id = static_cast<uint32_t>(remote_id_.load() & 0xffffffffu);
    std::memcpy(req.group, group.bytes().data(), 16);
    auto reply = app_->client_->request(MsgType::LeaveGroup, req);
    if (!reply) return reply.error();
    if (reply->type != MsgType::Ok) return error_from(reply.value(), "leave " + group.to_string());
  }
  return {};
}

Status ServiceSocket::close() {
  if (closed_) return {};
  app_->client_->check_fork();
  ServiceClient& c = *app_->client_;
  std::lock_guard lock(c.control_mutex_);
  closed_ = true;
  Status result;
  if (c.up() && attached()) {
    SocketRequest req{static_cast<uint32_t>(remote_id_.load() & 0xffffffffu), 0};
    auto reply = c.request(MsgType::CloseSocket, req);
    if (!reply) {
      result = reply.error();
    } else if (reply->type != MsgType::Ok) {
      result = error_from(reply.value(), "close on lrpd");
    }
  }
  {
    std::lock_guard alock(app_->attachment_mutex_);
    if (app_->locals_) {
      auto refs = std::make_shared<std::vector<ServiceApp::LocalRef>>(*app_->locals_);
      std::erase_if(*refs, [&](const ServiceApp::LocalRef& r) { return r.handle == handle_; });
      app_->locals_ = refs;
    }
  }
  std::erase_if(app_->sockets_, [&](const std::weak_ptr<ServiceSocket>& w) {
    auto k = w.lock();
    return !k || k.get() == this;
  });
  kernel_.reset();
  remote_id_.store(0);
  return result;
}

}  // namespace lrp::service
