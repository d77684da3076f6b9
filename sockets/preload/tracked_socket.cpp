#include "sockets/preload/tracked_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "sockets/preload/epoll_registry.h"
#include "sockets/preload/fd_reserve.h"
#include "sockets/preload/fd_table.h"
#include "sockets/preload/internal_fds.h"
#include "sockets/preload/io_uring_watch.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/runtime.h"

extern char* program_invocation_short_name;

namespace lrp::preload {

namespace {

// The fds one takeover adds at most (see Runtime's fd reserve).
constexpr size_t kFdsPerTakeover = 16;
// Datagrams moved out of a flow that is being replaced, at most.
constexpr int kMaxCarried = 4096;

bool kernel_flag(int fd, int level, int name) {
  int v = 0;
  socklen_t len = sizeof(v);
  return libc().getsockopt(fd, level, name, &v, &len) == 0 && v != 0;
}

std::optional<Endpoint> local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (libc().getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  auto e = Endpoint::from_sockaddr(ss);
  if (!e) return std::nullopt;
  return e.value();
}

std::optional<Endpoint> peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (libc().getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  auto e = Endpoint::from_sockaddr(ss);
  if (!e) return std::nullopt;
  return e.value();
}

KernelReason stack_reason(int code) {
  if (code == EPERM || code == EACCES) return KernelReason::NoPrivileges;
  if (code == EBUSY || code == EADDRINUSE) return KernelReason::InterfaceBusy;
  return KernelReason::EngineError;
}

KernelReason open_reason(int code) {
  if (code == EMFILE || code == ENFILE || code == ENOSPC) return KernelReason::Limit;
  if (code == EADDRINUSE) return KernelReason::AddressInUse;
  return KernelReason::Error;
}

timespec realtime_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

}  // namespace

TrackedSocket::TrackedSocket(int family, int fd, bool made_here)
    : family_(family), kernel_fd_(fd), options_default_(made_here) {
  option_versions_.push_back(std::make_unique<OptionState>());
  options_.store(option_versions_.back().get(), std::memory_order_release);
}

TrackedSocket::~TrackedSocket() {
  if (state_.load() == State::Kernel) return;  // the program's number is the socket
  InsideLrp inside;
  auto flow = flow_.exchange(nullptr);
  if (flow != nullptr && state_.load() != State::Inherited) flow->remove_member(this);
  flow.reset();
  for (int fd : {wait_fd_, stash_fd_, kernel_fd()}) {
    if (fd < 0) continue;
    InternalFds::get().unmark(fd);
    libc().close(fd);
  }
}

std::string TrackedSocket::describe(int fd) const {
  auto local = local_of(kernel_fd());
  return "udp " + (local ? local->to_string() : std::string("?")) + " (fd " + std::to_string(fd) +
         ")";
}

void TrackedSocket::refresh_options() {
  std::unique_ptr<OptionState> next;
  if (options_default_) {
    next = std::make_unique<OptionState>();
    // The only default the system decides (net.ipv6.bindv6only).
    next->v6only = family_ == AF_INET6 && kernel_flag(kernel_fd(), IPPROTO_IPV6, IPV6_V6ONLY);
  } else {
    next = std::make_unique<OptionState>(read_options(kernel_fd(), family_, sticky_options_));
  }
  options_.store(next.get(), std::memory_order_release);
  option_versions_.push_back(std::move(next));
}

void TrackedSocket::note_option(int level, int name) {
  std::unique_lock lock(transition_mutex_);
  sticky_options_ |= sticky_bit(level, name);
  if (classify_option(level, name) == nullptr) return;
  options_default_ = false;
  if (state_.load() != State::Served) return;
  refresh_options();
  const OptionState& o = options();
  if (o.receive_on_kernel != nullptr) {
    lock.unlock();
    give_back(KernelReason::ReceiveOption,
              std::string(o.receive_on_kernel) + " was set: lrp does not reproduce it on receive");
    return;
  }
  const int ifindex = Runtime::get().ifindex();
  if (o.bound_ifindex != 0 && o.bound_ifindex != ifindex) {
    lock.unlock();
    give_back(KernelReason::OtherDevice, "SO_BINDTODEVICE names another interface");
  }
}

std::optional<std::pair<KernelReason, std::string>> TrackedSocket::refuse() {
  Runtime& rt = Runtime::get();
  if (rt.forked_from_stack())
    return std::pair{KernelReason::ForkedChild,
                     "this process was forked from one whose lrp engine serves " +
                         rt.settings()->iface + " (bind before fork, or use lrpd)"};
  refresh_options();
  const OptionState& o = options();
  if (o.bound_ifindex != 0 && o.bound_ifindex != rt.ifindex())
    return std::pair{KernelReason::OtherDevice, std::string("bound to another interface")};
  if (o.receive_on_kernel != nullptr)
    return std::pair{KernelReason::ReceiveOption,
                     std::string(o.receive_on_kernel) + " is set: lrp does not reproduce it"};
  if (rt.io_uring_seen())
    return std::pair{KernelReason::IoUring,
                     std::string("the process uses io_uring, which lrp does not serve")};
  if (rt.open_stack() != nullptr &&
      InternalFds::get().count() + kFdsPerTakeover > FdReserve::get().budget())
    return std::pair{KernelReason::FdBudget,
                     "lrp already holds " + std::to_string(InternalFds::get().count()) +
                         " fds of its budget of " + std::to_string(FdReserve::get().budget())};
  return std::nullopt;
}

std::string TrackedSocket::flow_key(const Endpoint& local,
                                    const std::optional<Endpoint>& remote) const {
  const bool dual =
      !remote && family_ == AF_INET6 && local.addr == IpAddress::any_v6() && !options().v6only;
  std::string key = local.to_string() + (dual ? "/dual" : "");
  if (remote) key += "->" + remote->to_string();
  return key;
}

Result<std::shared_ptr<LrpFlow>> TrackedSocket::open_flow(const Endpoint& local,
                                                          const std::optional<Endpoint>& remote,
                                                          int kernel_fd, KernelReason* reason,
                                                          std::string* key_out) {
  Runtime& rt = Runtime::get();
  auto stack = rt.stack();
  if (!stack) {
    *reason = stack_reason(stack.error().code);
    return stack.error();
  }
  const OptionState& o = options();
  const bool dual =
      !remote && family_ == AF_INET6 && local.addr == IpAddress::any_v6() && !o.v6only;
  std::vector<BindSpec> binds;
  if (remote) {
    // A connected socket is one exact flow, of the remote's family.
    binds.push_back(BindSpec{local.addr, local.port, remote});
  } else {
    // In process an IPv4 socket takes the IPv4 half; lrpd serves both
    // families through the one kernel socket it is shown (and knows a
    // kernel socket only once).
    if (dual && rt.settings()->in_process)
      binds.push_back(BindSpec{IpAddress::any_v4(), local.port, std::nullopt});
    binds.push_back(BindSpec{local.addr, local.port, std::nullopt});
  }
  const std::string key = flow_key(local, remote);
  if (key_out != nullptr) *key_out = key;
  sockets::SocketConfig config;
  config.application.name =
      std::string(program_invocation_short_name) + ":" + std::to_string(local.port);
  config.receive_local_address = true;
  // The program's own kernel socket: the library reads it (see take_over),
  // the API sends what it must through it and shows it to lrpd.
  config.kernel_fd = kernel_fd;
  config.reuse_address = kernel_flag(kernel_fd, SOL_SOCKET, SO_REUSEADDR);
  const bool reuseport = !remote && kernel_flag(kernel_fd, SOL_SOCKET, SO_REUSEPORT);
  auto flow = LrpFlow::join(stack.value(), key, binds, config, reuseport);
  if (!flow) *reason = open_reason(flow.error().code);
  return flow;
}

void TrackedSocket::consider_takeover(int fd) {
  std::unique_lock lock(transition_mutex_);
  if (state_.load() != State::Kernel) return;
  Runtime& rt = Runtime::get();
  auto local = local_of(fd);
  if (!local) return;
  TakeoverStats& stats = TakeoverStats::get();
  if (rt.settings() == nullptr) {
    if (!counted_) stats.kernel(KernelReason::NotConfigured, describe(fd), "no lrp settings");
    counted_ = true;
    return;
  }
  if (!rt.serves(local->addr)) return;
  const std::optional<Endpoint> remote = peer_of(fd);
  auto refused = refuse();
  KernelReason reason = KernelReason::Error;
  std::string why;
  if (refused) {
    reason = refused->first;
    why = refused->second;
  } else {
    // The kernel socket's number from now on, made first: the flow keeps it.
    int hidden;
    {
      InsideLrp inside;
      hidden = note_created(libc().fcntl(fd, F_DUPFD_CLOEXEC, 3));
    }
    const auto drop_hidden = [&] {
      if (hidden < 0) return;
      InsideLrp inside;
      InternalFds::get().unmark(hidden);
      libc().close(hidden);
      hidden = -1;
    };
    std::string key;
    auto flow = hidden >= 0
                    ? open_flow(local.value(), remote, hidden, &reason, &key)
                    : Result<std::shared_ptr<LrpFlow>>(errno_error("move the kernel socket"));
    if (!flow) drop_hidden();
    if (!flow && reason == KernelReason::AddressInUse) {
      // Two sockets on one address without SO_REUSEPORT (SO_REUSEADDR): the
      // kernel gives the datagrams to the one bound last. lrp cannot, so
      // the one it serves goes back to the kernel too.
      if (!counted_) stats.kernel(reason, describe(fd), flow.error().message());
      counted_ = true;
      lock.unlock();
      give_back_holders(key);
      return;
    }
    if (flow && process_has_io_uring()) {
      // A ring made out of the C library's sight (its mapping shows it):
      // looked for only now that lrp could serve the socket, as it reads
      // /proc/self/maps. The sockets served so far go back too.
      flow = make_error(EOPNOTSUPP, "the process uses io_uring, which lrp does not serve");
      reason = KernelReason::IoUring;
      drop_hidden();
      lock.unlock();
      io_uring_started();
      lock.lock();
    }
    if (!flow) {
      why = flow.error().message();
    } else {
      Status st = take_over(fd, hidden, std::move(flow.value()));
      if (!st.ok()) drop_hidden();
      if (st.ok()) {
        if (remote) {
          std::lock_guard state(state_mutex);
          peer = remote;
          connected_local = local->addr;
          connected = true;
        }
        lock.unlock();
        stats.served(describe(fd));
        return;
      }
      reason = KernelReason::Error;
      why = st.error().message();
    }
  }
  if (!counted_) stats.kernel(reason, describe(fd), why);
  counted_ = true;
}

void TrackedSocket::watch_flow(const LrpFlow& flow, bool add) {
  for (const auto& s : const_cast<LrpFlow&>(flow).sockets()) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = s->ready_fd();
    libc().epoll_ctl(wait_fd_, add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->ready_fd(),
                     add ? &ev : nullptr);
  }
}

Status TrackedSocket::take_over(int fd, int hidden, std::shared_ptr<LrpFlow> flow) {
  InsideLrp inside;
  // lrp's own: placed above the program's fds and marked.
  stash_fd_ = note_created(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  wait_fd_ = note_created(libc().epoll_create1(EPOLL_CLOEXEC));
  const auto undo = [&] {
    for (int* p : {&stash_fd_, &wait_fd_}) {
      if (*p >= 0) {
        InternalFds::get().unmark(*p);
        libc().close(*p);
      }
      *p = -1;
    }
  };
  if (stash_fd_ < 0 || wait_fd_ < 0 || hidden < 0) {
    const Error e = errno_error("set up the readiness fds");
    undo();
    return e;
  }
  for (int w : {stash_fd_, hidden}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = w;
    if (libc().epoll_ctl(wait_fd_, EPOLL_CTL_ADD, w, &ev) != 0) {
      const Error e = errno_error("watch fd " + std::to_string(w) + " for readiness");
      undo();
      return e;
    }
  }
  watch_flow(*flow, true);
  const int fd_flags = libc().fcntl(fd, F_GETFD);
  const int fl_flags = libc().fcntl(fd, F_GETFL);
  nonblocking = fl_flags >= 0 && (fl_flags & O_NONBLOCK) != 0;
  // The program's number now names the readiness epoll; the kernel socket
  // lives on at the hidden number. Epoll sets that already watched the
  // number watch the readiness fd from now on.
  const auto early = EpollRegistry::get().take_early(fd);
  for (const auto& e : early) libc().epoll_ctl(e.epfd, EPOLL_CTL_DEL, fd, nullptr);
  if (libc().dup3(wait_fd_, fd, (fd_flags & FD_CLOEXEC) != 0 ? O_CLOEXEC : 0) < 0) {
    const Error e = errno_error("put the readiness fd at fd " + std::to_string(fd));
    for (const auto& r : early) {
      epoll_event ev = r.event;
      libc().epoll_ctl(r.epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    undo();
    return e;
  }
  kernel_fd_.store(hidden, std::memory_order_release);
  flow->add_member(this);
  flow_.store(std::move(flow), std::memory_order_release);
  flow_version_.fetch_add(1, std::memory_order_acq_rel);
  state_.store(State::Served, std::memory_order_release);
  for (const auto& e : early) {
    epoll_event ev = e.event;
    EpollRegistry::get().ctl_served(e.epfd, EPOLL_CTL_ADD, fd, &ev);
  }
  return {};
}

void TrackedSocket::swap_flow(std::shared_ptr<LrpFlow> next) {
  auto old = flow_.load();
  if (old == next) return;
  InsideLrp inside;
  watch_flow(*next, true);
  next->add_member(this);
  flow_.store(next, std::memory_order_release);
  flow_version_.fetch_add(1, std::memory_order_acq_rel);
  if (old == nullptr) return;
  old->remove_member(this);
  watch_flow(*old, false);
  if (old->member_count() > 0) return;
  // The socket's own flow: what it had queued stays readable, as the
  // kernel keeps a socket's queue over connect.
  std::lock_guard receiving(old->receive_mutex());
  std::vector<uint8_t> buffer(65536);
  for (auto& s : old->sockets()) {
    for (int i = 0; i < kMaxCarried; ++i) {
      auto r = s->receive_copy(buffer, sockets::kNoWait);
      if (!r) break;
      hold(HeldDatagram{std::vector<uint8_t>(buffer.begin(), buffer.begin() + r->size), r->source,
                        r->local, r->tos, r->ttl, realtime_now()});
    }
  }
}

// With lrpd the kernel socket keeps its lrp socket over connect and
// disconnect (lrpd knows it by its inode and refuses a second one).
Status TrackedSocket::reconnect_in_place(const Endpoint& local,
                                         const std::optional<Endpoint>& remote) {
  const Settings* settings = Runtime::get().settings();
  auto flow = flow_.load();
  if (settings == nullptr || settings->in_process || flow == nullptr)
    return make_error(EINVAL, "reconnect in place");
  return flow->reconnect_in_place(flow_key(local, remote));
}

void TrackedSocket::after_connect(const std::optional<Endpoint>& remote) {
  std::unique_lock lock(transition_mutex_);
  if (state_.load() != State::Served) return;
  Runtime& rt = Runtime::get();
  const auto local = local_of(kernel_fd());
  KernelReason reason = KernelReason::Error;
  std::string why;
  if (!local) {
    why = "the kernel socket has no address after connect";
  } else if (remote && !rt.serves(local->addr)) {
    reason = KernelReason::OtherDevice;
    why = "connected through another interface";
  } else if (!remote && local->port == 0) {
    reason = KernelReason::Disconnected;
    why = "connect(AF_UNSPEC) unbound the socket";
  } else if (reconnect_in_place(local.value(), remote).ok()) {
    std::lock_guard state(state_mutex);
    peer = remote;
    connected_local = remote ? std::optional<IpAddress>(local->addr) : std::nullopt;
    connected = remote.has_value();
    return;
  } else {
    auto next = open_flow(local.value(), remote, kernel_fd(), &reason);
    if (next) {
      swap_flow(std::move(next.value()));
      std::lock_guard state(state_mutex);
      peer = remote;
      connected_local = remote ? std::optional<IpAddress>(local->addr) : std::nullopt;
      connected = remote.has_value();
      return;
    }
    why = next.error().message();
  }
  lock.unlock();
  give_back(reason, why);
}

void TrackedSocket::give_back(KernelReason reason, const std::string& why) {
  std::unique_lock lock(transition_mutex_);
  if (state_.load() != State::Served) return;
  InsideLrp inside;
  const int hidden = kernel_fd();
  const std::vector<int> numbers = FdTable::get().numbers_of(this);
  const std::string name = describe(numbers.empty() ? -1 : numbers.front());
  for (int n : numbers) {
    // Out of the program's epoll sets while n still names the readiness
    // fd; back in with the program's own events once it names the socket.
    const auto registrations = EpollRegistry::get().take_registrations(n);
    for (const auto& r : registrations) libc().epoll_ctl(r.epfd, EPOLL_CTL_DEL, n, nullptr);
    const int fd_flags = libc().fcntl(n, F_GETFD);
    libc().dup3(hidden, n, fd_flags >= 0 && (fd_flags & FD_CLOEXEC) != 0 ? O_CLOEXEC : 0);
    for (const auto& r : registrations) {
      epoll_event ev = r.event;
      libc().epoll_ctl(r.epfd, EPOLL_CTL_ADD, n, &ev);
    }
  }
  const int fl = libc().fcntl(hidden, F_GETFL);
  if (fl >= 0) libc().fcntl(hidden, F_SETFL, nonblocking ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
  state_.store(State::Returned, std::memory_order_release);
  if (auto flow = flow_.exchange(nullptr)) {
    flow->remove_member(this);
    watch_flow(*flow, false);
  }
  flow_version_.fetch_add(1, std::memory_order_acq_rel);
  // Calls waiting on the readiness fd wake up and go on on the kernel socket.
  const uint64_t one = 1;
  (void)!libc().write(stash_fd_, &one, sizeof(one));
  lock.unlock();
  TakeoverStats::get().kernel(reason, name, why + "; given back to the kernel");
}

void TrackedSocket::give_back_holders(const std::string& key) {
  auto holder = LrpFlow::find(key);
  if (holder == nullptr) return;
  std::vector<std::shared_ptr<TrackedSocket>> members;
  FdTable::get().for_each([&](int, const std::shared_ptr<TrackedSocket>& s) {
    if (s.get() != this && s->flow() == holder &&
        std::find(members.begin(), members.end(), s) == members.end())
      members.push_back(s);
  });
  for (auto& s : members)
    s->give_back(KernelReason::AddressInUse,
                 "another socket was bound to the same address (SO_REUSEADDR): the kernel "
                 "chooses between them");
}

bool TrackedSocket::adopt_number(int fd, bool cloexec) {
  std::lock_guard lock(transition_mutex_);
  if (state_.load() != State::Served) return false;
  return libc().dup3(wait_fd_, fd, cloexec ? O_CLOEXEC : 0) == fd;
}

void TrackedSocket::note_shutdown(int how) {
  int bits = 0;
  if (how == SHUT_RD || how == SHUT_RDWR) bits |= kReadShut;
  if (how == SHUT_WR || how == SHUT_RDWR) bits |= kWriteShut;
  const int before = shut_down_.fetch_or(bits, std::memory_order_acq_rel);
  if ((bits & kReadShut) != 0 && (before & kReadShut) == 0) {
    // Readable from now on: wakes every waiter and every poll.
    std::lock_guard lock(held_mutex_);
    const uint64_t one = 1;
    (void)!libc().write(stash_fd_, &one, sizeof(one));
  }
}

void TrackedSocket::hold(HeldDatagram&& d) {
  std::lock_guard lock(held_mutex_);
  held_.push_back(std::move(d));
  if (held_count_.fetch_add(1, std::memory_order_acq_rel) == 0) {
    const uint64_t one = 1;
    (void)!libc().write(stash_fd_, &one, sizeof(one));
  }
}

bool TrackedSocket::take_held(HeldDatagram* out, bool peek) {
  std::lock_guard lock(held_mutex_);
  if (held_.empty()) return false;
  if (peek) {
    *out = held_.front();
    return true;
  }
  *out = std::move(held_.front());
  held_.pop_front();
  if (held_count_.fetch_sub(1, std::memory_order_acq_rel) == 1 && (shut_down() & kReadShut) == 0) {
    uint64_t value;
    (void)!libc().read(stash_fd_, &value, sizeof(value));
  }
  return true;
}

size_t TrackedSocket::held_front_size() {
  std::lock_guard lock(held_mutex_);
  return held_.empty() ? 0 : held_.front().payload.size();
}

int TrackedSocket::wait_readable(int timeout_ms) {
  epoll_event ev;
  return libc().epoll_wait(wait_fd_, &ev, 1, timeout_ms);
}

void TrackedSocket::prepare_exec() {
  const State state = state_.load();
  if (state != State::Served && state != State::Inherited) return;
  std::vector<int> surviving;
  for (int n : FdTable::get().numbers_of(this)) {
    const int flags = libc().fcntl(n, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) == 0) surviving.push_back(n);
  }
  if (surviving.empty()) return;
  const Settings* settings = Runtime::get().settings();
  const bool on_lrpd = settings != nullptr && !settings->in_process;
  if (state == State::Served && !on_lrpd) {
    give_back(KernelReason::Exec, "the program execs with it open");
    return;
  }
  // A fork child's copy, or any socket lrpd serves: only this process's fd
  // table changes. lrpd lets go of what no other process holds when this
  // process's connection closes at the exec; a parent that shares the
  // socket keeps it served (giving it back here would close it for both).
  for (int n : surviving) libc().dup3(kernel_fd(), n, 0);
}

void TrackedSocket::mark_inherited() {
  if (state_.load() != State::Served) return;
  state_.store(State::Inherited);
  // The flow's native sockets belong to the parent's engine: keep a
  // reference forever so the child never closes them.
  if (auto flow = flow_.load()) new std::shared_ptr<LrpFlow>(flow);
  new (&held_mutex_) std::mutex();
  new (&state_mutex) std::mutex();
  new (&transition_mutex_) std::mutex();
}

}  // namespace lrp::preload
