// Receiving on a socket lrp serves, with the kernel's conventions: msghdr
// in and out, control messages as the kernel writes them, errno on failure,
// blocking as O_NONBLOCK, MSG_DONTWAIT and SO_RCVTIMEO say, and signals as
// the kernel treats a blocked receive.
#include <errno.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include <cstring>
#include <vector>

#include "sockets/preload/cmsg_writer.h"
#include "sockets/preload/datagram_io.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/runtime.h"
#include "sockets/preload/tracked_socket.h"
#include "sockets/preload/wait_policy.h"

namespace lrp::preload {

namespace {

constexpr ssize_t kNothing = -2;
constexpr size_t kMaxDatagram = 65536;
// Datagrams one look at an over-full queue moves or drops at most.
constexpr int kMaxTrim = 4096;

std::span<uint8_t> bounce_buffer() {
  thread_local std::vector<uint8_t> buffer(kMaxDatagram);
  return buffer;
}

timespec realtime_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

// What the receive path knows of one datagram besides its payload.
struct Meta {
  size_t datagram_size = 0;
  Endpoint source;
  std::optional<Endpoint> local;
  uint8_t tos = 0;
  uint8_t ttl = 0;
  timespec stamp{};
};

// The source as the program's socket family sees it: an IPv4 sender on an
// IPv6 socket is ::ffff:a.b.c.d.
void fill_name(const TrackedSocket& s, const Endpoint& source, msghdr* msg) {
  if (msg->msg_name == nullptr) return;
  sockaddr_storage ss{};
  socklen_t len;
  if (s.family() == AF_INET6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(source.port);
    std::memcpy(&sin6.sin6_addr, source.addr.bytes().data(), 16);
    std::memcpy(&ss, &sin6, sizeof(sin6));
    len = sizeof(sin6);
  } else {
    len = source.to_sockaddr(&ss);
  }
  std::memcpy(msg->msg_name, &ss, std::min<socklen_t>(len, msg->msg_namelen));
  msg->msg_namelen = len;
}

void put_timestamp(CmsgWriter& w, int type, const timespec& stamp) {
  if (type == SO_TIMESTAMPNS_OLD || type == SO_TIMESTAMPNS_NEW) {
    // struct timespec and __kernel_timespec have one layout on 64-bit Linux.
    w.put(SOL_SOCKET, type, stamp);
  } else {
    const timeval tv{stamp.tv_sec, stamp.tv_nsec / 1000};
    w.put(SOL_SOCKET, type, tv);
  }
}

// The IPv4 control messages, in the kernel's order (ip_cmsg_recv).
void put_ipv4(CmsgWriter& w, const OptionState& o, const Meta& m, int ifindex) {
  const Endpoint& local = *m.local;
  if (o.pktinfo4) {
    in_pktinfo info{};
    info.ipi_ifindex = ifindex;
    info.ipi_spec_dst = local.addr.to_v4();
    info.ipi_addr = local.addr.to_v4();
    w.put(IPPROTO_IP, IP_PKTINFO, info);
  }
  if (o.recvttl) w.put(IPPROTO_IP, IP_TTL, static_cast<int>(m.ttl));
  if (o.recvtos) w.put(IPPROTO_IP, IP_TOS, m.tos);
  if (o.origdst4) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(local.port);
    sin.sin_addr = local.addr.to_v4();
    w.put(IPPROTO_IP, IP_ORIGDSTADDR, sin);
  }
}

// The kernel's order: timestamps (sock_recv_cmsgs), IPV6_PKTINFO, then the
// IPv4 messages for an IPv4 datagram or the IPv6 ones for an IPv6 one.
void fill_control(TrackedSocket& s, const Meta& m, msghdr* msg) {
  const OptionState& o = s.options();
  if (!o.any_receive_cmsg() || !m.local) {
    msg->msg_controllen = 0;
    return;
  }
  CmsgWriter w(msg);
  if (o.timestamp != 0) put_timestamp(w, o.timestamp, m.stamp);
  const int ifindex = Runtime::get().ifindex();
  const Endpoint& local = *m.local;
  if (s.family() == AF_INET) {
    put_ipv4(w, o, m, ifindex);
  } else {
    if (o.pktinfo6) {
      in6_pktinfo info{};
      info.ipi6_ifindex = static_cast<unsigned>(ifindex);
      std::memcpy(&info.ipi6_addr, local.addr.bytes().data(), 16);
      w.put(IPPROTO_IPV6, IPV6_PKTINFO, info);
    }
    if (local.addr.is_v4()) {
      put_ipv4(w, o, m, ifindex);
    } else {
      if (o.recvhoplimit) w.put(IPPROTO_IPV6, IPV6_HOPLIMIT, static_cast<int>(m.ttl));
      if (o.recvtclass) w.put(IPPROTO_IPV6, IPV6_TCLASS, static_cast<int>(m.tos));
      if (o.origdst6) {
        sockaddr_in6 sin6{};
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(local.port);
        std::memcpy(&sin6.sin6_addr, local.addr.bytes().data(), 16);
        w.put(IPPROTO_IPV6, IPV6_ORIGDSTADDR, sin6);
      }
    }
  }
  w.finish();
}

size_t scatter(std::span<const uint8_t> data, msghdr* msg) {
  size_t done = 0;
  for (size_t i = 0; i < msg->msg_iovlen && done < data.size(); ++i) {
    const size_t n = std::min(msg->msg_iov[i].iov_len, data.size() - done);
    std::memcpy(msg->msg_iov[i].iov_base, data.data() + done, n);
    done += n;
  }
  return done;
}

// Completes msg for a datagram whose payload is already in place.
// `cmsg_flags` is MSG_CMSG_CLOEXEC when the program passed it: the kernel
// hands it back in msg_flags.
ssize_t finish(TrackedSocket& s, msghdr* msg, int flags, int cmsg_flags, size_t copied,
               const Meta& m) {
  if ((flags & MSG_PEEK) == 0) TakeoverStats::get().count(Route::ReceivedLrp);
  msg->msg_flags = cmsg_flags;
  if (copied < m.datagram_size) msg->msg_flags |= MSG_TRUNC;
  fill_name(s, m.source, msg);
  fill_control(s, m, msg);
  return static_cast<ssize_t>((flags & MSG_TRUNC) != 0 ? m.datagram_size : copied);
}

ssize_t deliver_held(TrackedSocket& s, msghdr* msg, int flags, int cmsg_flags) {
  HeldDatagram d;
  if (!s.take_held(&d, (flags & MSG_PEEK) != 0)) return kNothing;
  const size_t copied = scatter(d.payload, msg);
  return finish(s, msg, flags, cmsg_flags, copied,
                Meta{d.payload.size(), d.source, d.local, d.tos, d.ttl, d.stamp});
}

// One native receive, copying, without waiting; EAGAIN when nothing is there.
Result<sockets::ReceiveInfo> receive_native(LrpFlow& flow, std::span<uint8_t> into) {
  InsideLrp inside;
  auto& sockets = flow.sockets();
  const size_t first = sockets.size() > 1 ? flow.next_socket() : 0;
  for (size_t i = 0;; ++i) {
    auto r = sockets[(first + i) % sockets.size()]->receive_copy(into, sockets::kNoWait);
    if (r.ok() || r.error().code != EAGAIN || i + 1 == sockets.size()) {
      flow.note_receive(r.ok());
      return r;
    }
  }
}

HeldDatagram held_copy(std::span<const uint8_t> data, const sockets::ReceiveInfo& r) {
  return HeldDatagram{std::vector<uint8_t>(data.begin(), data.begin() + r.size),
                      r.source,
                      r.local,
                      r.tos,
                      r.ttl,
                      realtime_now()};
}

// SO_RCVBUF: an unread socket keeps the first `bound` datagrams that
// arrived and the kernel drops the rest as they come. lrp's rings hold more,
// so at each look the datagrams beyond the bound (in arrival order the
// newest, which the kernel would have dropped) are dropped here.
void trim_to_bound(TrackedSocket& s, LrpFlow& flow, uint32_t bound) {
  if (flow.member_count() != 1 || flow.pending_count() + s.held_count() <= bound) return;
  std::unique_lock lock(flow.receive_mutex(), std::try_to_lock);
  if (!lock.owns_lock()) return;
  std::span<uint8_t> buffer = bounce_buffer();
  for (int i = 0; i < kMaxTrim; ++i) {
    auto r = receive_native(flow, buffer);
    if (!r) break;
    if (s.held_count() < bound) s.hold(held_copy(buffer, r.value()));
  }
}

ssize_t receive_from_flow(TrackedSocket& s, LrpFlow* flow, msghdr* msg, int flags, int cmsg_flags) {
  if (flow == nullptr || !flow->maybe_pending()) return kNothing;
  std::unique_lock lock(flow->receive_mutex(), std::try_to_lock);
  if (!lock.owns_lock()) return kNothing;  // another member receives; it hands ours over
  const bool alone = flow->member_count() == 1 && (flags & MSG_PEEK) == 0;
  if (alone) {
    // The common case: straight into the program's buffer when it is one piece.
    const bool direct = msg->msg_iovlen == 1;
    std::span<uint8_t> into =
        direct ? std::span<uint8_t>(static_cast<uint8_t*>(msg->msg_iov[0].iov_base),
                                    msg->msg_iov[0].iov_len)
               : bounce_buffer();
    auto r = receive_native(*flow, into);
    if (!r) {
      if (r.error().code == EAGAIN) return kNothing;
      errno = r.error().code;
      return -1;
    }
    const size_t copied = direct ? r->size : scatter(into.first(r->size), msg);
    // The clock only when the program asked for receive times.
    const timespec stamp = s.options().timestamp != 0 ? realtime_now() : timespec{};
    return finish(s, msg, flags, cmsg_flags, copied,
                  Meta{r->datagram_size, r->source, r->local, r->tos, r->ttl, stamp});
  }
  // A reuseport group, or a peek: every datagram goes to the member its
  // sender belongs to, this one included, and is delivered from there.
  for (int i = 0; i < 64; ++i) {
    std::span<uint8_t> into = bounce_buffer();
    auto r = receive_native(*flow, into);
    if (!r) {
      if (r.error().code == EAGAIN) return kNothing;
      errno = r.error().code;
      return -1;
    }
    HeldDatagram d = held_copy(into, r.value());
    bool mine = false;
    flow->with_owner_of(r->source, [&](TrackedSocket* owner) {
      if (owner == nullptr) return;
      mine = owner == &s;
      owner->hold(std::move(d));
    });
    if (mine) return deliver_held(s, msg, flags, cmsg_flags);
  }
  return kNothing;
}

// The flow a call uses, fetched again when a connect or disconnect changed it.
struct FlowRef {
  std::shared_ptr<LrpFlow> flow;
  uint64_t version = ~uint64_t{0};
  LrpFlow* get(const TrackedSocket& s) {
    const uint64_t v = s.flow_version();
    if (v != version) {
      flow = s.flow();
      version = v;
    }
    return flow.get();
  }
};

ssize_t try_receive(TrackedSocket& s, FlowRef& ref, msghdr* msg, int flags, int cmsg_flags,
                    bool kernel_too) {
  LrpFlow* flow = ref.get(s);
  const uint32_t bound = s.options().rcvbuf_bound;
  if (bound != 0 && flow != nullptr && kernel_too) trim_to_bound(s, *flow, bound);
  if (s.has_held()) {
    const ssize_t r = deliver_held(s, msg, flags, cmsg_flags);
    if (r != kNothing) return r;
  }
  const ssize_t r = receive_from_flow(s, flow, msg, flags, cmsg_flags);
  if (r != kNothing) return r;
  if (!kernel_too) return kNothing;
  const ssize_t k = libc().recvmsg(s.kernel_fd(), msg, flags | cmsg_flags | MSG_DONTWAIT);
  if (k >= 0 && (flags & MSG_PEEK) == 0) TakeoverStats::get().count(Route::ReceivedKernel);
  if (k >= 0 || errno != EAGAIN) return k;
  return kNothing;
}

ssize_t interrupted() {
  errno = EINTR;
  return -1;
}

// A blocking receive on a socket shut down for reading, with nothing queued:
// the kernel returns 0, with no address and no control data.
ssize_t end_of_input(msghdr* msg, int cmsg_flags) {
  if (msg->msg_name != nullptr) msg->msg_namelen = 0;
  msg->msg_controllen = 0;
  msg->msg_flags = cmsg_flags;
  return 0;
}

int64_t deadline_after(int timeout_ms) {
  return timeout_ms < 0 ? -1 : now_ns() + int64_t{timeout_ms} * 1'000'000;
}

// The kernel's rule for a blocked receive that a signal handler ran in:
// EINTR unless the handler has SA_RESTART and the socket has no receive
// timeout (a receive with SO_RCVTIMEO is never restarted).
bool interrupts(const SignalCounts& before, const SignalCounts& now, bool has_timeout) {
  return now.interrupting != before.interrupting || (has_timeout && now.any != before.any);
}

}  // namespace

ssize_t receive_message(TrackedSocket& s, msghdr* msg, int flags) {
  // The error queue and out-of-band data are the kernel socket's (ICMP
  // errors of lrp's sends arrive there too); neither ever blocks.
  if ((flags & (MSG_ERRQUEUE | MSG_OOB)) != 0) return libc().recvmsg(s.kernel_fd(), msg, flags);
  const bool dontwait = (flags & MSG_DONTWAIT) != 0 || s.nonblocking.load();
  const int cmsg_flags = flags & MSG_CMSG_CLOEXEC;
  const int original = flags;
  flags &= ~(MSG_DONTWAIT | MSG_WAITALL | MSG_CMSG_CLOEXEC);
  FlowRef ref;
  ssize_t r = try_receive(s, ref, msg, flags, cmsg_flags, true);
  if (r != kNothing) return r;
  if (dontwait) {
    errno = EAGAIN;
    return -1;
  }
  if ((s.shut_down() & TrackedSocket::kReadShut) != 0) return end_of_input(msg, cmsg_flags);
  const WaitPolicy& policy = wait_policy();
  const int timeout_ms = s.options().rcvtimeo_ms;
  const int64_t deadline = deadline_after(timeout_ms);
  const SignalCounts signals = signal_counts();
  for (;;) {
    // Given back to the kernel meanwhile: the kernel socket answers.
    if (s.returned()) return libc().recvmsg(s.kernel_fd(), msg, original);
    // Spin on lrp alone (a few loads when idle); the kernel socket is a
    // system call, so it is looked at every so often and after each sleep.
    const int64_t spin_start = now_ns();
    for (uint32_t spins = 1; policy.kind != WaitPolicy::Kind::Interrupt; ++spins) {
      r = try_receive(s, ref, msg, flags, cmsg_flags, spins % 64 == 0);
      if (r != kNothing) return r;
      // Fewer reads of the ring's producer line while the sender's core writes it.
      for (int i = 0; i < 8; ++i) __builtin_ia32_pause();
      if (spins % 16 != 0) continue;
      step_aside();
      if (interrupts(signals, signal_counts(), timeout_ms >= 0)) return interrupted();
      if (s.returned()) break;
      if ((s.shut_down() & TrackedSocket::kReadShut) != 0) return end_of_input(msg, cmsg_flags);
      const int64_t now = now_ns();
      if (deadline >= 0 && now >= deadline) break;
      if (policy.kind == WaitPolicy::Kind::Adaptive && now - spin_start >= policy.spin_ns) break;
    }
    if (s.returned()) continue;
    const int left = remaining_ms(deadline);
    if (left == 0) {
      errno = EAGAIN;
      return -1;
    }
    if (s.wait_readable(left) < 0 && errno == EINTR) {
      // No handler ran here (a stop and continue) or one with SA_RESTART:
      // the kernel's receive goes on, unless it has a timeout.
      const SignalCounts now = signal_counts();
      if (interrupts(signals, now, timeout_ms >= 0) || (timeout_ms >= 0 && now.any == signals.any))
        return interrupted();
    }
    r = try_receive(s, ref, msg, flags, cmsg_flags, true);
    if (r != kNothing) return r;
    if ((s.shut_down() & TrackedSocket::kReadShut) != 0) return end_of_input(msg, cmsg_flags);
  }
}

int receive_messages(TrackedSocket& s, mmsghdr* msgs, unsigned int n, int flags,
                     timespec* timeout) {
  const int64_t deadline =
      timeout == nullptr ? -1 : now_ns() + timeout->tv_sec * 1'000'000'000LL + timeout->tv_nsec;
  const bool wait_for_one = (flags & MSG_WAITFORONE) != 0;
  flags &= ~MSG_WAITFORONE;
  unsigned int got = 0;
  for (; got < n; ++got) {
    const bool later_nonblocking = got > 0 && wait_for_one;
    const ssize_t r =
        receive_message(s, &msgs[got].msg_hdr, flags | (later_nonblocking ? MSG_DONTWAIT : 0));
    if (r < 0) {
      if (got > 0) break;
      return -1;
    }
    msgs[got].msg_len = static_cast<unsigned int>(r);
    if (deadline >= 0) {
      // As the kernel: the time left goes back into *timeout, checked
      // after each datagram.
      const int64_t left = deadline - now_ns();
      if (left <= 0) {
        *timeout = timespec{0, 0};
        ++got;
        break;
      }
      *timeout = timespec{left / 1'000'000'000, left % 1'000'000'000};
    }
  }
  return static_cast<int>(got);
}

int next_datagram_size(TrackedSocket& s) {
  if (!s.has_held()) {
    // Peeking moves the next lrp datagram into the held queue.
    char byte;
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    auto flow = s.flow();
    if (receive_from_flow(s, flow.get(), &msg, MSG_PEEK, 0) == kNothing) {
      int n = 0;
      if (libc().ioctl(s.kernel_fd(), FIONREAD, &n) == 0) return n;
      return 0;
    }
  }
  return static_cast<int>(s.held_front_size());
}

}  // namespace lrp::preload
