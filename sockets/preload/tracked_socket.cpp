#include "sockets/preload/tracked_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "sockets/preload/epoll_registry.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/runtime.h"

extern char* program_invocation_short_name;

namespace lrp::preload {

namespace {

int timeval_ms(const void* value, socklen_t length) {
  if (length < static_cast<socklen_t>(sizeof(timeval))) return -1;
  timeval tv;
  std::memcpy(&tv, value, sizeof(tv));
  if (tv.tv_sec == 0 && tv.tv_usec == 0) return -1;
  const long long ms = tv.tv_sec * 1000LL + (tv.tv_usec + 999) / 1000;
  return ms > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(ms);
}

bool flag_value(const void* value, socklen_t length) {
  int v = 0;
  if (length >= static_cast<socklen_t>(sizeof(int)))
    std::memcpy(&v, value, sizeof(v));
  else if (length >= 1)
    v = *static_cast<const uint8_t*>(value);
  return v != 0;
}

// Options a program sets to get something lrp's datagrams do not carry or
// its sends do not apply; the kernel socket still gets them.
const char* unsupported_option(int level, int name) {
  switch (level) {
    case SOL_SOCKET:
      switch (name) {
        case SO_TIMESTAMP:
          return "SO_TIMESTAMP";
        case SO_TIMESTAMPNS:
          return "SO_TIMESTAMPNS";
        case SO_TIMESTAMPING:
          return "SO_TIMESTAMPING";
        case SO_RXQ_OVFL:
          return "SO_RXQ_OVFL";
        case SO_MARK:
          return "SO_MARK";
        case SO_BINDTODEVICE:
          return "SO_BINDTODEVICE";
      }
      break;
    case IPPROTO_IP:
      switch (name) {
        case IP_TOS:
          return "IP_TOS";
        case IP_TTL:
          return "IP_TTL";
        case IP_RECVTOS:
          return "IP_RECVTOS";
        case IP_RECVTTL:
          return "IP_RECVTTL";
        case IP_RECVERR:
          return "IP_RECVERR";
        case IP_RECVORIGDSTADDR:
          return "IP_RECVORIGDSTADDR";
        case IP_ADD_MEMBERSHIP:
          return "IP_ADD_MEMBERSHIP (multicast stays on the kernel)";
        case IP_OPTIONS:
          return "IP_OPTIONS";
      }
      break;
    case IPPROTO_IPV6:
      switch (name) {
        case IPV6_TCLASS:
          return "IPV6_TCLASS";
        case IPV6_UNICAST_HOPS:
          return "IPV6_UNICAST_HOPS";
        case IPV6_RECVTCLASS:
          return "IPV6_RECVTCLASS";
        case IPV6_RECVHOPLIMIT:
          return "IPV6_RECVHOPLIMIT";
        case IPV6_RECVERR:
          return "IPV6_RECVERR";
        case IPV6_ADD_MEMBERSHIP:
          return "IPV6_ADD_MEMBERSHIP (multicast stays on the kernel)";
      }
      break;
  }
  return nullptr;
}

bool kernel_flag(int fd, int level, int name) {
  int v = 0;
  socklen_t len = sizeof(v);
  return libc().getsockopt(fd, level, name, &v, &len) == 0 && v != 0;
}

}  // namespace

TrackedSocket::TrackedSocket(int family, int fd) : family_(family), kernel_fd_(fd) {}

TrackedSocket::~TrackedSocket() {
  if (!taken()) return;  // the program's number is the kernel socket: closed by its close()
  InsideLrp inside;
  if (flow_ != nullptr && !inherited_) flow_->remove_member(this);
  flow_.reset();
  if (wait_fd_ >= 0) libc().close(wait_fd_);
  if (stash_fd_ >= 0) libc().close(stash_fd_);
  libc().close(kernel_fd());
}

void TrackedSocket::note_option(int level, int name, const void* value, socklen_t length) {
  if (value == nullptr) return;
  if (level == SOL_SOCKET && name == SO_RCVTIMEO) rcvtimeo_ms = timeval_ms(value, length);
  if (level == SOL_SOCKET && name == SO_SNDTIMEO) sndtimeo_ms = timeval_ms(value, length);
  if (level == IPPROTO_IP && name == IP_PKTINFO) pktinfo4 = flag_value(value, length);
  if (level == IPPROTO_IPV6 && name == IPV6_RECVPKTINFO) pktinfo6 = flag_value(value, length);
  if (const char* what = unsupported_option(level, name)) {
    std::lock_guard lock(state_mutex);
    if (std::find(unsupported_.begin(), unsupported_.end(), what) == unsupported_.end())
      unsupported_.push_back(what);
  }
  if (taken()) say_unsupported_options();
}

void TrackedSocket::say_unsupported_options() {
  std::vector<std::string> names;
  {
    std::lock_guard lock(state_mutex);
    names = unsupported_;
  }
  for (const auto& name : names)
    Runtime::get().warn_once("option " + name,
                             "socket option " + name +
                                 " is not supported on sockets lrp serves: it applies to the "
                                 "kernel socket only, not to datagrams lrp receives or sends");
}

int TrackedSocket::consider_takeover(int fd, const std::optional<Endpoint>& remote) {
  if (taken() || inherited_) return 0;
  Runtime& rt = Runtime::get();
  if (rt.settings() == nullptr) return 0;
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (libc().getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  auto local = Endpoint::from_sockaddr(ss);
  if (!local || !rt.serves(local->addr)) return 0;

  const bool dual = family_ == AF_INET6 && local->addr == IpAddress::any_v6() &&
                    !kernel_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY);
  std::vector<BindSpec> binds;
  if (dual) binds.push_back(BindSpec{IpAddress::any_v4(), local->port, std::nullopt});
  binds.push_back(BindSpec{local->addr, local->port, std::nullopt});
  if (remote) {
    // A connected socket is one exact flow, of the remote's family.
    binds.clear();
    binds.push_back(BindSpec{local->addr, local->port, remote});
  }
  std::string key = local->to_string() + (dual ? "/dual" : "");
  if (remote) key += "->" + remote->to_string();
  Status st = take_over(fd, binds, key, local.value());
  if (!st.ok()) {
    rt.say("cannot serve udp " + local->to_string() + " (fd " + std::to_string(fd) + ") on " +
           rt.settings()->iface + ": " + st.error().message());
    errno = st.error().code != 0 ? st.error().code : EINVAL;
    return -1;
  }
  if (remote) {
    std::lock_guard lock(state_mutex);
    peer = remote;
  }
  if (rt.settings()->verbose)
    rt.say("udp " + local->to_string() + " (fd " + std::to_string(fd) + ") served by lrp");
  say_unsupported_options();
  return 0;
}

Status TrackedSocket::take_over(int fd, const std::vector<BindSpec>& binds, const std::string& key,
                                const Endpoint& local) {
  const std::string name =
      std::string(program_invocation_short_name) + ":" + std::to_string(local.port);
  auto flow = LrpFlow::join(key, binds, name, fd);
  if (!flow) return flow.error();
  InsideLrp inside;
  stash_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  wait_fd_ = libc().epoll_create1(EPOLL_CLOEXEC);
  const int hidden = libc().fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (stash_fd_ < 0 || wait_fd_ < 0 || hidden < 0) {
    const Error e = errno_error("set up the readiness fds");
    if (stash_fd_ >= 0) libc().close(stash_fd_);
    if (wait_fd_ >= 0) libc().close(wait_fd_);
    if (hidden >= 0) libc().close(hidden);
    stash_fd_ = wait_fd_ = -1;
    return e;
  }
  std::vector<int> watched = {stash_fd_, hidden};
  for (auto& s : flow.value()->sockets()) watched.push_back(s->ready_fd());
  for (int w : watched) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = w;
    if (libc().epoll_ctl(wait_fd_, EPOLL_CTL_ADD, w, &ev) != 0) {
      const Error e = errno_error("watch fd " + std::to_string(w) + " for readiness");
      libc().close(stash_fd_);
      libc().close(wait_fd_);
      libc().close(hidden);
      stash_fd_ = wait_fd_ = -1;
      return e;
    }
  }
  const int fd_flags = libc().fcntl(fd, F_GETFD);
  const int fl_flags = libc().fcntl(fd, F_GETFL);
  nonblocking = fl_flags >= 0 && (fl_flags & O_NONBLOCK) != 0;
  pktinfo4 = kernel_flag(fd, IPPROTO_IP, IP_PKTINFO);
  if (family_ == AF_INET6) pktinfo6 = kernel_flag(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO);
  timeval tv{};
  socklen_t len = sizeof(tv);
  if (libc().getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0)
    rcvtimeo_ms = timeval_ms(&tv, len);
  len = sizeof(tv);
  if (libc().getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0)
    sndtimeo_ms = timeval_ms(&tv, len);
  // The program's number now names the readiness epoll; the kernel socket
  // lives on at the hidden number. Epoll sets that already watched the
  // number watch the readiness fd from now on.
  const auto early = EpollRegistry::get().take_early(fd);
  for (const auto& e : early) libc().epoll_ctl(e.epfd, EPOLL_CTL_DEL, fd, nullptr);
  if (libc().dup3(wait_fd_, fd, (fd_flags & FD_CLOEXEC) != 0 ? O_CLOEXEC : 0) < 0) {
    const Error e = errno_error("put the readiness fd at fd " + std::to_string(fd));
    libc().close(stash_fd_);
    libc().close(wait_fd_);
    libc().close(hidden);
    stash_fd_ = wait_fd_ = -1;
    return e;
  }
  kernel_fd_.store(hidden, std::memory_order_release);
  flow_ = std::move(flow.value());
  flow_->add_member(this);
  taken_.store(true, std::memory_order_release);
  for (const auto& e : early) {
    epoll_event ev = e.event;
    ev.events &= ~static_cast<uint32_t>(EPOLLOUT);
    if (libc().epoll_ctl(e.epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
      EpollRegistry::get().note(e.epfd, EPOLL_CTL_ADD, fd, &e.event);
  }
  return {};
}

int TrackedSocket::connect_flow(const Endpoint& remote) {
  if (flow_ == nullptr) return 0;
  if (flow_->member_count() > 1) {
    Runtime::get().warn_once("connect-reuseport",
                             "connect() on a SO_REUSEPORT socket lrp serves: it keeps receiving "
                             "its share of the group's datagrams, not only the peer's");
    std::lock_guard lock(state_mutex);
    peer = remote;
    return 0;
  }
  sockets::UdpSocket* s = flow_->for_family(remote.addr.is_v4());
  if (s == nullptr) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  InsideLrp inside;
  Status st = s->connect(remote);
  if (!st.ok()) {
    Runtime::get().say("connect udp to " + remote.to_string() + ": " + st.error().message());
    errno = st.error().code != 0 ? st.error().code : EINVAL;
    return -1;
  }
  flow_->rename(flow_->key() + "->" + remote.to_string());
  std::lock_guard lock(state_mutex);
  peer = remote;
  return 0;
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
  if (held_count_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
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

void TrackedSocket::mark_inherited() {
  inherited_ = true;
  // The flow's native sockets belong to the parent's engine: keep a
  // reference forever so the child never closes them.
  if (flow_ != nullptr) new std::shared_ptr<LrpFlow>(flow_);
  new (&held_mutex_) std::mutex();
  new (&state_mutex) std::mutex();
}

}  // namespace lrp::preload
