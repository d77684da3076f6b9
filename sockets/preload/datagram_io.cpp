#include "sockets/preload/datagram_io.h"

#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>

#include <cstring>
#include <vector>

#include "sockets/preload/libc_calls.h"
#include "sockets/preload/runtime.h"
#include "sockets/preload/tracked_socket.h"
#include "sockets/preload/wait_policy.h"

namespace lrp::preload {

namespace {

constexpr ssize_t kNothing = -2;
constexpr size_t kMaxDatagram = 65536;

std::span<uint8_t> bounce_buffer() {
  thread_local std::vector<uint8_t> buffer(kMaxDatagram);
  return buffer;
}

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

void fill_control(TrackedSocket& s, const std::optional<Endpoint>& local, msghdr* msg) {
  const size_t room = msg->msg_controllen;
  msg->msg_controllen = 0;
  if (msg->msg_control == nullptr || room == 0 || !local) return;
  const bool v4 = local->addr.is_v4();
  const bool want4 = v4 && s.pktinfo4.load(std::memory_order_relaxed);
  const bool want6 =
      s.family() == AF_INET6 && s.pktinfo6.load(std::memory_order_relaxed) && !(v4 && want4);
  if (!want4 && !want6) return;
  const size_t need = want4 ? CMSG_SPACE(sizeof(in_pktinfo)) : CMSG_SPACE(sizeof(in6_pktinfo));
  if (room < need) {
    msg->msg_flags |= MSG_CTRUNC;
    return;
  }
  msg->msg_controllen = need;
  cmsghdr* c = CMSG_FIRSTHDR(msg);
  std::memset(c, 0, need);
  const int ifindex = Runtime::get().ifindex();
  if (want4) {
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_ifindex = ifindex;
    info.ipi_spec_dst = local->addr.to_v4();
    info.ipi_addr = local->addr.to_v4();
    std::memcpy(CMSG_DATA(c), &info, sizeof(info));
  } else {
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    in6_pktinfo info{};
    info.ipi6_ifindex = static_cast<unsigned>(ifindex);
    std::memcpy(&info.ipi6_addr, local->addr.bytes().data(), 16);
    std::memcpy(CMSG_DATA(c), &info, sizeof(info));
  }
}

size_t iov_total(const msghdr* msg) {
  size_t total = 0;
  for (size_t i = 0; i < msg->msg_iovlen; ++i) total += msg->msg_iov[i].iov_len;
  return total;
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
ssize_t finish(TrackedSocket& s, msghdr* msg, int flags, size_t copied, size_t datagram_size,
               const Endpoint& source, const std::optional<Endpoint>& local) {
  msg->msg_flags = 0;
  if (copied < datagram_size) msg->msg_flags |= MSG_TRUNC;
  fill_name(s, source, msg);
  fill_control(s, local, msg);
  return static_cast<ssize_t>((flags & MSG_TRUNC) != 0 ? datagram_size : copied);
}

ssize_t deliver_held(TrackedSocket& s, msghdr* msg, int flags) {
  HeldDatagram d;
  if (!s.take_held(&d, (flags & MSG_PEEK) != 0)) return kNothing;
  const size_t copied = scatter(d.payload, msg);
  return finish(s, msg, flags, copied, d.payload.size(), d.source, d.local);
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

ssize_t receive_from_flow(TrackedSocket& s, msghdr* msg, int flags) {
  LrpFlow* flow = s.flow();
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
    return finish(s, msg, flags, copied, r->datagram_size, r->source, r->local);
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
    HeldDatagram d{std::vector<uint8_t>(into.begin(), into.begin() + r->size), r->source, r->local};
    bool mine = false;
    flow->with_owner_of(r->source, [&](TrackedSocket* owner) {
      if (owner == nullptr) return;
      mine = owner == &s;
      owner->hold(std::move(d));
    });
    if (mine) return deliver_held(s, msg, flags);
  }
  return kNothing;
}

ssize_t try_receive(TrackedSocket& s, msghdr* msg, int flags, bool kernel_too) {
  if (s.has_held()) {
    const ssize_t r = deliver_held(s, msg, flags);
    if (r != kNothing) return r;
  }
  const ssize_t r = receive_from_flow(s, msg, flags);
  if (r != kNothing) return r;
  if (!kernel_too) return kNothing;
  const ssize_t k = libc().recvmsg(s.kernel_fd(), msg, flags | MSG_DONTWAIT);
  if (k >= 0 || errno != EAGAIN) return k;
  return kNothing;
}

ssize_t interrupted() {
  errno = EINTR;
  return -1;
}

int64_t deadline_after(int timeout_ms) {
  return timeout_ms < 0 ? -1 : now_ns() + int64_t{timeout_ms} * 1'000'000;
}

}  // namespace

ssize_t receive_message(TrackedSocket& s, msghdr* msg, int flags) {
  const bool dontwait = (flags & MSG_DONTWAIT) != 0 || s.nonblocking.load();
  flags &= ~(MSG_DONTWAIT | MSG_WAITALL);
  ssize_t r = try_receive(s, msg, flags, true);
  if (r != kNothing) return r;
  if (dontwait) {
    errno = EAGAIN;
    return -1;
  }
  const WaitPolicy& policy = wait_policy();
  const int64_t deadline = deadline_after(s.rcvtimeo_ms.load());
  const SignalCounts signals = signal_counts();
  for (;;) {
    // Spin on lrp alone (a few loads when idle); the kernel socket is a
    // system call, so it is looked at every so often and after each sleep.
    const int64_t spin_start = now_ns();
    for (uint32_t spins = 1; policy.kind != WaitPolicy::Kind::Interrupt; ++spins) {
      r = try_receive(s, msg, flags, spins % 64 == 0);
      if (r != kNothing) return r;
      // Fewer reads of the ring's producer line while the sender's core writes it.
      for (int i = 0; i < 8; ++i) __builtin_ia32_pause();
      if (spins % 16 != 0) continue;
      if (signal_counts().interrupting != signals.interrupting) return interrupted();
      const int64_t now = now_ns();
      if (deadline >= 0 && now >= deadline) break;
      if (policy.kind == WaitPolicy::Kind::Adaptive && now - spin_start >= policy.spin_ns) break;
    }
    const int left = remaining_ms(deadline);
    if (left == 0) {
      errno = EAGAIN;
      return -1;
    }
    if (s.wait_readable(left) < 0 && errno == EINTR) {
      // A handler with SA_RESTART: the kernel would go on waiting.
      const SignalCounts now = signal_counts();
      if (now.interrupting != signals.interrupting || now.any == signals.any) return interrupted();
    }
    r = try_receive(s, msg, flags, true);
    if (r != kNothing) return r;
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
    const bool later_nonblocking = got > 0 && (wait_for_one || (flags & MSG_DONTWAIT) != 0);
    const ssize_t r =
        receive_message(s, &msgs[got].msg_hdr, flags | (later_nonblocking ? MSG_DONTWAIT : 0));
    if (r < 0) {
      if (got > 0) break;
      return -1;
    }
    msgs[got].msg_len = static_cast<unsigned int>(r);
    if (deadline >= 0 && now_ns() >= deadline) {
      ++got;
      break;
    }
  }
  return static_cast<int>(got);
}

namespace {

// The source a program asked for with IP_PKTINFO / IPV6_PKTINFO on send.
std::optional<IpAddress> source_from_control(const msghdr* msg) {
  if (msg->msg_control == nullptr || msg->msg_controllen == 0) return std::nullopt;
  for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(msg)); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(msg), c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      const in_addr a = info.ipi_spec_dst.s_addr != 0 ? info.ipi_spec_dst : info.ipi_addr;
      if (a.s_addr != 0) return IpAddress::from_v4(a);
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      const IpAddress a = IpAddress::from_v6(info.ipi6_addr);
      if (!a.is_any()) return a;
    }
  }
  return std::nullopt;
}

}  // namespace

namespace {

// Where a message goes: its msg_name, or the connected peer.
std::optional<Endpoint> destination_of(TrackedSocket& s, const msghdr* msg) {
  if (msg->msg_name != nullptr && msg->msg_namelen > 0) {
    auto e = Endpoint::from_sockaddr(static_cast<const sockaddr*>(msg->msg_name), msg->msg_namelen);
    if (e) return e.value();
    return std::nullopt;
  }
  std::lock_guard lock(s.state_mutex);
  return s.peer;
}

// The native socket that sends to `to`, or null when the kernel socket does.
sockets::UdpSocket* native_for(TrackedSocket& s, const std::optional<Endpoint>& to) {
  LrpFlow* flow = s.flow();
  if (flow == nullptr || !to || !Runtime::get().reaches(to->addr)) return nullptr;
  return flow->for_family(to->addr.is_v4());
}

}  // namespace

ssize_t send_message(TrackedSocket& s, const msghdr* msg, int flags) {
  const std::optional<Endpoint> to = s.flow() != nullptr ? destination_of(s, msg) : std::nullopt;
  sockets::UdpSocket* native = native_for(s, to);
  if (native == nullptr) return libc().sendmsg(s.kernel_fd(), msg, flags);

  std::span<const uint8_t> payload;
  if (msg->msg_iovlen == 1) {
    payload = {static_cast<const uint8_t*>(msg->msg_iov[0].iov_base), msg->msg_iov[0].iov_len};
  } else {
    std::span<uint8_t> buffer = bounce_buffer();
    const size_t total = iov_total(msg);
    if (total > buffer.size()) {
      errno = EMSGSIZE;
      return -1;
    }
    size_t done = 0;
    for (size_t i = 0; i < msg->msg_iovlen; ++i) {
      std::memcpy(buffer.data() + done, msg->msg_iov[i].iov_base, msg->msg_iov[i].iov_len);
      done += msg->msg_iov[i].iov_len;
    }
    payload = buffer.first(total);
  }
  const std::optional<IpAddress> from = source_from_control(msg);
  const bool dontwait = (flags & MSG_DONTWAIT) != 0 || s.nonblocking.load();
  const int sndtimeo = s.sndtimeo_ms.load();
  // EAGAIN: the transmit ring is full, or the destination's link-layer
  // address is being resolved (NDP retries once a second, three times). A
  // blocking socket waits for either, bounded; a non-blocking one hears EAGAIN.
  const int64_t deadline = deadline_after(dontwait ? 0 : (sndtimeo < 0 ? 3500 : sndtimeo));
  const uint64_t signals = signal_counts().interrupting;
  InsideLrp inside;
  for (;;) {
    Status st = native->send_to(to.value(), payload, from ? &from.value() : nullptr);
    if (st.ok()) return static_cast<ssize_t>(payload.size());
    if (st.error().code != EAGAIN) {
      errno = st.error().code != 0 ? st.error().code : EIO;
      return -1;
    }
    (void)native->flush();
    if (signal_counts().interrupting != signals) return interrupted();
    if (now_ns() >= deadline) {
      errno = (dontwait || sndtimeo >= 0) ? EAGAIN : ENOBUFS;
      return -1;
    }
    sched_yield();
  }
}

int send_messages(TrackedSocket& s, mmsghdr* msgs, unsigned int n, int flags) {
  // Runs of one-piece messages to lrp destinations go out as one native
  // batch with one kick; anything else, and whatever a full ring refuses,
  // takes the one-message path (which waits or says EAGAIN as the socket asks).
  constexpr size_t kBatch = 64;
  thread_local std::vector<sockets::OutDatagram> batch;
  unsigned int sent = 0;
  while (sent < n) {
    batch.clear();
    sockets::UdpSocket* native = nullptr;
    for (unsigned int i = sent; i < n && batch.size() < kBatch; ++i) {
      const msghdr* m = &msgs[i].msg_hdr;
      if (m->msg_iovlen != 1 || s.flow() == nullptr) break;
      const std::optional<Endpoint> to = destination_of(s, m);
      sockets::UdpSocket* target = native_for(s, to);
      if (target == nullptr || (native != nullptr && target != native)) break;
      native = target;
      batch.push_back(sockets::OutDatagram{
          to.value(),
          {static_cast<const uint8_t*>(m->msg_iov[0].iov_base), m->msg_iov[0].iov_len},
          source_from_control(m)});
    }
    size_t queued = 0;
    if (native != nullptr) {
      InsideLrp inside;
      auto r = native->send_batch(batch);
      if (!r && r.error().code != EAGAIN) {
        if (sent > 0) break;
        errno = r.error().code != 0 ? r.error().code : EIO;
        return -1;
      }
      queued = r ? r.value() : 0;
    }
    for (size_t k = 0; k < queued; ++k)
      msgs[sent + k].msg_len = static_cast<unsigned int>(batch[k].payload.size());
    sent += static_cast<unsigned int>(queued);
    if (sent == n || (queued > 0 && queued == batch.size())) continue;
    const ssize_t r = send_message(s, &msgs[sent].msg_hdr, flags);
    if (r < 0) {
      if (sent > 0) break;
      return -1;
    }
    msgs[sent++].msg_len = static_cast<unsigned int>(r);
  }
  return static_cast<int>(sent);
}

int next_datagram_size(TrackedSocket& s) {
  if (!s.has_held()) {
    // Peeking moves the next lrp datagram into the held queue.
    char byte;
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (receive_from_flow(s, &msg, MSG_PEEK) == kNothing) {
      int n = 0;
      if (libc().ioctl(s.kernel_fd(), FIONREAD, &n) == 0) return n;
      return 0;
    }
  }
  return static_cast<int>(s.held_front_size());
}

}  // namespace lrp::preload
