#include "service/daemon/server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include <cstring>
#include <deque>
#include <vector>

namespace lrp::service {

namespace {

constexpr size_t kMaxConnections = 4096;
constexpr size_t kMaxQueuedReplies = 16384;
constexpr int kMessagesPerTurn = 64;
constexpr uint64_t kStopKey = ~uint64_t{0};
constexpr uint64_t kListenKey = ~uint64_t{0} - 1;

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000ull + uint64_t(ts.tv_nsec);
}

Status make_parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  const std::string dir = path.substr(0, slash);
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) return {};
  LRP_TRY(make_parent_dir(dir));
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return errno_error("create directory " + dir + " for the control socket");
  return {};
}

}  // namespace

struct Server::Connection : Replier {
  UniqueFd fd;
  uint32_t session = 0;
  bool dead = false;
  bool want_out = false;
  struct Pending {
    MsgType type;
    uint32_t seq;
    std::vector<uint8_t> body;
    std::vector<UniqueFd> fds;
  };
  std::deque<Pending> outbox;
  uint32_t seq = 0;  // of the request being answered

  void reply(MsgType type, const void* body, size_t size, std::span<const int> fds) override {
    if (dead) return;
    if (outbox.empty()) {
      Status st = send_message(fd.get(), type, seq, body, size, fds);
      if (st.ok()) return;
      if (st.error().code != EAGAIN) {
        dead = true;
        return;
      }
    }
    if (outbox.size() >= kMaxQueuedReplies) {
      dead = true;  // a client that never reads
      return;
    }
    Pending p{type, seq, {}, {}};
    const auto* b = static_cast<const uint8_t*>(body);
    p.body.assign(b, b + size);
    for (int f : fds) p.fds.emplace_back(fcntl(f, F_DUPFD_CLOEXEC, 0));
    outbox.push_back(std::move(p));
    want_out = true;
  }
};

Server::Server(ControlPlane& plane) : plane_(plane) {}

Result<std::unique_ptr<Server>> Server::listen(const std::string& path, ControlPlane& plane) {
  std::unique_ptr<Server> s(new Server(plane));
  s->path_ = path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    return make_error(ENAMETOOLONG, "control socket path '" + path + "'");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  LRP_TRY(make_parent_dir(path));
  {
    // Someone answering there is a running lrpd; nobody answering is a
    // socket file left by one that died.
    UniqueFd probe(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0)
      return make_error(EADDRINUSE, "another lrpd is serving " + path);
    if (errno == ECONNREFUSED) unlink(path.c_str());
  }
  s->listen_fd_.reset(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!s->listen_fd_) return errno_error("create the control socket");
  if (bind(s->listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return errno_error("bind the control socket " + path);
  // Any user may attach: the kernel socket a client passes proves its ports.
  if (chmod(path.c_str(), 0666) != 0) return errno_error("chmod 0666 " + path);
  if (::listen(s->listen_fd_.get(), 128) != 0) return errno_error("listen on " + path);
  s->epoll_fd_.reset(epoll_create1(EPOLL_CLOEXEC));
  s->stop_fd_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!s->epoll_fd_ || !s->stop_fd_) return errno_error("create the control loop's epoll");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kStopKey;
  epoll_ctl(s->epoll_fd_.get(), EPOLL_CTL_ADD, s->stop_fd_.get(), &ev);
  ev.data.u64 = kListenKey;
  epoll_ctl(s->epoll_fd_.get(), EPOLL_CTL_ADD, s->listen_fd_.get(), &ev);
  return s;
}

Server::~Server() {
  while (!connections_.empty()) drop(connections_.begin()->first);
  if (listen_fd_) unlink(path_.c_str());
}

void Server::stop() {
  const uint64_t one = 1;
  (void)!write(stop_fd_.get(), &one, sizeof(one));
}

void Server::drop(int fd) {
  auto it = connections_.find(fd);
  if (it == connections_.end()) return;
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  plane_.close_session(it->second->session);
  connections_.erase(it);
}

void Server::accept_all() {
  for (;;) {
    UniqueFd fd(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;  // EAGAIN, or a connection that vanished before accept
    if (connections_.size() >= kMaxConnections) continue;  // closed: the client sees EOF
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) continue;
    auto c = std::make_unique<Connection>();
    c->session = plane_.open_session(PeerCredentials{cred.pid, cred.uid, cred.gid});
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = static_cast<uint64_t>(fd.get());
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd.get(), &ev);
    c->fd = std::move(fd);
    const int key = c->fd.get();
    connections_[key] = std::move(c);
  }
}

void Server::flush(Connection& c) {
  while (!c.outbox.empty() && !c.dead) {
    auto& p = c.outbox.front();
    std::vector<int> fds;
    for (const auto& f : p.fds) fds.push_back(f.get());
    Status st = send_message(c.fd.get(), p.type, p.seq, p.body.data(), p.body.size(), fds);
    if (!st.ok()) {
      if (st.error().code != EAGAIN) c.dead = true;
      break;
    }
    c.outbox.pop_front();
  }
}

void Server::serve(Connection& c) {
  for (int i = 0; i < kMessagesPerTurn && !c.dead && c.outbox.empty(); ++i) {
    auto m = receive_message(c.fd.get());
    if (!m) {
      if (m.error().code == EAGAIN) return;
      if (m.error().code != ECONNRESET) {
        // A malformed message: say why, then hang up.
        (void)send_error(c.fd.get(), 0, MsgType::Error, m.error());
      }
      c.dead = true;
      return;
    }
    c.seq = m->seq;
    plane_.handle(c.session, m.value(), c);
  }
}

Status Server::run(const std::atomic<bool>* stop_flag) {
  uint64_t next_tick = 0;
  for (;;) {
    if (stop_flag != nullptr && stop_flag->load(std::memory_order_relaxed)) return {};
    const uint64_t now = monotonic_ns();
    if (now >= next_tick) {
      plane_.tick(now);
      next_tick = now + 100'000'000;
    }
    epoll_event events[64];
    const int n = epoll_wait(epoll_fd_.get(), events, 64, 100);
    if (n < 0 && errno != EINTR) return errno_error("wait for control connections");
    for (int i = 0; i < n; ++i) {
      const uint64_t key = events[i].data.u64;
      if (key == kStopKey) return {};
      if (key == kListenKey) {
        accept_all();
        continue;
      }
      auto it = connections_.find(static_cast<int>(key));
      if (it == connections_.end()) continue;
      Connection& c = *it->second;
      if ((events[i].events & EPOLLOUT) != 0) flush(c);
      if ((events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) serve(c);
      // Hung up with nothing left to read: the session ends now.
      if (!c.dead && (events[i].events & (EPOLLHUP | EPOLLERR)) != 0) c.dead = true;
      if (c.dead) {
        drop(static_cast<int>(key));
        continue;
      }
      // Replies waiting: stop reading requests until they are out.
      const bool want_out = !c.outbox.empty();
      epoll_event ev{};
      ev.events = want_out ? uint32_t{EPOLLOUT | EPOLLRDHUP} : uint32_t{EPOLLIN | EPOLLRDHUP};
      ev.data.u64 = key;
      epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
    }
  }
}

}  // namespace lrp::service
