// Sending on a socket lrp serves. lrp sends a datagram itself only when it
// can send exactly what the kernel would: a unicast destination on the lrp
// interface's subnets, a datagram that fits the interface's MTU (or a
// UDP_SEGMENT train of such), a source that is an address of the interface,
// and no option or flag that changes how the kernel builds or routes it.
// Everything else goes through the kernel socket (still bound to the same
// address and port), whose result is the program's: corking (MSG_MORE,
// UDP_CORK), broadcast (SO_BROADCAST is the kernel's check), local and
// multicast destinations, fragmentation, IP_TOS, IP_TTL, SO_MARK, a non-local
// IP_PKTINFO source (which the kernel refuses), and any send lrp cannot
// complete at once (a full transmit ring, a next hop still being resolved):
// the kernel queues it behind ARP/NDP or blocks by sleeping, as the socket's
// flags say. No send waits or spins in the library.
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#include <cstring>
#include <vector>

#include "sockets/preload/datagram_io.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/runtime.h"
#include "sockets/preload/tracked_socket.h"

namespace lrp::preload {

namespace {

constexpr size_t kMaxDatagram = 65536;
constexpr size_t kIpv4Header = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kUdpHeader = 8;
// The kernel allows at least this many segments per UDP_SEGMENT send (more
// on newer kernels); longer trains go to the kernel, which decides.
constexpr size_t kMaxSegments = 64;
// Flags that change nothing about a datagram lrp sends.
constexpr int kPlainFlags = MSG_DONTWAIT | MSG_NOSIGNAL | MSG_CONFIRM;

std::span<uint8_t> gather_buffer() {
  thread_local std::vector<uint8_t> buffer(kMaxDatagram);
  return buffer;
}

size_t iov_total(const msghdr* msg) {
  size_t total = 0;
  for (size_t i = 0; i < msg->msg_iovlen; ++i) total += msg->msg_iov[i].iov_len;
  return total;
}

// A send lrp does itself.
struct Plan {
  sockets::UdpSocket* native = nullptr;
  Endpoint to;
  IpAddress from;
  size_t length = 0;
  size_t segment = 0;  // UDP_SEGMENT size; 0: one datagram
};

// The control messages of a send, when lrp can honour all of them.
struct SendControl {
  std::optional<IpAddress> source;  // IP_PKTINFO / IPV6_PKTINFO source
  uint16_t segment = 0;             // UDP_SEGMENT
};

bool read_control(const msghdr* msg, int ifindex, SendControl* out) {
  if (msg->msg_control == nullptr || msg->msg_controllen == 0) return true;
  msghdr* m = const_cast<msghdr*>(msg);
  for (cmsghdr* c = CMSG_FIRSTHDR(m); c != nullptr; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
        c->cmsg_len == CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      if (info.ipi_ifindex != 0 && info.ipi_ifindex != ifindex) return false;
      // The kernel takes the source from ipi_spec_dst alone.
      if (info.ipi_spec_dst.s_addr != 0) out->source = IpAddress::from_v4(info.ipi_spec_dst);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
               c->cmsg_len == CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      if (info.ipi6_ifindex != 0 && static_cast<int>(info.ipi6_ifindex) != ifindex) return false;
      const IpAddress a = IpAddress::from_v6(info.ipi6_addr);
      if (!a.is_any()) out->source = a;
    } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_SEGMENT &&
               c->cmsg_len == CMSG_LEN(sizeof(uint16_t))) {
      std::memcpy(&out->segment, CMSG_DATA(c), sizeof(out->segment));
    } else {
      return false;  // anything else is the kernel's to apply
    }
  }
  return true;
}

// Where a message goes: its msg_name, or the connected peer.
std::optional<Endpoint> destination_of(TrackedSocket& s, const msghdr* msg) {
  if (msg->msg_name != nullptr && msg->msg_namelen > 0) {
    const auto* sa = static_cast<const sockaddr*>(msg->msg_name);
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) return std::nullopt;
    if (s.family() == AF_INET && sa->sa_family != AF_INET) return std::nullopt;
    auto e = Endpoint::from_sockaddr(sa, msg->msg_namelen);
    if (e) return e.value();
    return std::nullopt;
  }
  if (!s.connected.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard lock(s.state_mutex);
  return s.peer;
}

// Whether lrp sends this message itself (Route::SentLrp, with `plan`
// filled in), or why the kernel socket does.
Route plan_send(TrackedSocket& s, LrpFlow* flow, const msghdr* msg, int flags, Plan* plan) {
  if (flow == nullptr) return Route::SentKernelDestination;
  if ((flags & MSG_MORE) != 0) return Route::SentKernelCork;
  if ((flags & ~kPlainFlags) != 0) return Route::SentKernelFlags;
  const OptionState& o = s.options();
  if (o.corked || s.kernel_pending.load()) return Route::SentKernelCork;
  // Shut down for writing: the kernel's EPIPE.
  if ((s.shut_down() & TrackedSocket::kWriteShut) != 0) return Route::SentKernelFlags;
  if (o.send_on_kernel != nullptr) return Route::SentKernelOption;
  Runtime& rt = Runtime::get();
  const auto to = destination_of(s, msg);
  if (!to || to->port == 0 || !rt.reaches(to->addr)) return Route::SentKernelDestination;
  if (o.v6only && to->addr.is_v4()) return Route::SentKernelDestination;
  SendControl control;
  if (!read_control(msg, rt.ifindex(), &control)) return Route::SentKernelControl;
  IpAddress from;
  if (control.source) {
    // lrp sends from the interface's addresses; the kernel decides about
    // any other (and refuses one that is not local).
    if (control.source->is_v4() != to->addr.is_v4() || !rt.is_interface_address(*control.source))
      return Route::SentKernelControl;
    from = *control.source;
  } else {
    std::optional<IpAddress> chosen;
    if (s.connected.load(std::memory_order_acquire)) {
      std::lock_guard lock(s.state_mutex);
      if (s.peer && *s.peer == *to) chosen = s.connected_local;
    }
    const auto bound = [&]() -> std::optional<IpAddress> {
      for (auto& native : flow->sockets())
        if (!native->local().addr.is_any() && native->local().addr.is_v4() == to->addr.is_v4())
          return native->local().addr;
      return std::nullopt;
    }();
    if (!chosen) chosen = bound;
    if (!chosen) chosen = rt.source_for(to->addr);
    if (!chosen) return Route::SentKernelDestination;
    from = *chosen;
  }
  sockets::UdpSocket* native = flow->for_family(to->addr.is_v4());
  if (native == nullptr) return Route::SentKernelDestination;
  const size_t length = iov_total(msg);
  const size_t headers = (to->addr.is_v4() ? kIpv4Header : kIpv6Header) + kUdpHeader;
  const size_t mtu = static_cast<size_t>(rt.mtu());
  if (length + headers > 0xffff) return Route::SentKernelSize;  // EMSGSIZE is the kernel's
  const size_t segment = control.segment != 0 ? control.segment : o.gso_size;
  if (segment != 0 && length > segment) {
    if (segment + headers > mtu || (length + segment - 1) / segment > kMaxSegments)
      return Route::SentKernelSize;
  } else if (length + headers > mtu) {
    return Route::SentKernelSize;  // the kernel fragments it, or refuses it
  }
  *plan = Plan{native, to.value(), from, length, segment != 0 && length > segment ? segment : 0};
  return Route::SentLrp;
}

// The payload in one piece.
std::span<const uint8_t> payload_of(const msghdr* msg, size_t length) {
  if (msg->msg_iovlen == 1) return {static_cast<const uint8_t*>(msg->msg_iov[0].iov_base), length};
  std::span<uint8_t> buffer = gather_buffer();
  size_t done = 0;
  for (size_t i = 0; i < msg->msg_iovlen; ++i) {
    std::memcpy(buffer.data() + done, msg->msg_iov[i].iov_base, msg->msg_iov[i].iov_len);
    done += msg->msg_iov[i].iov_len;
  }
  return buffer.first(length);
}

ssize_t kernel_send(TrackedSocket& s, const msghdr* msg, int flags, Route why) {
  TakeoverStats::get().count(why);
  if (s.nonblocking.load()) flags |= MSG_DONTWAIT;
  const ssize_t r = libc().sendmsg(s.kernel_fd(), msg, flags);
  // The kernel keeps a corked datagram pending until a send without
  // MSG_MORE (and without UDP_CORK) or an error; later sends join it there.
  s.kernel_pending = r >= 0 && ((flags & MSG_MORE) != 0 || s.options().corked);
  return r;
}

// The segments from `first` on, each as one datagram through the kernel
// socket (what lrp could not send of a UDP_SEGMENT train).
ssize_t kernel_segments(TrackedSocket& s, const Plan& plan, std::span<const uint8_t> payload,
                        size_t first, int flags) {
  for (size_t at = first; at < payload.size(); at += plan.segment) {
    const size_t n = std::min(plan.segment, payload.size() - at);
    sockaddr_storage ss{};
    const socklen_t len = plan.to.to_sockaddr(&ss);
    iovec iov{const_cast<uint8_t*>(payload.data() + at), n};
    msghdr m{};
    m.msg_name = &ss;
    m.msg_namelen = len;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (kernel_send(s, &m, flags, Route::SentKernelBusy) < 0)
      return at == 0 ? -1 : static_cast<ssize_t>(payload.size());
  }
  return static_cast<ssize_t>(payload.size());
}

}  // namespace

ssize_t send_message(TrackedSocket& s, const msghdr* msg, int flags) {
  const auto flow = s.flow();
  Plan plan;
  const Route route = plan_send(s, flow.get(), msg, flags, &plan);
  if (route != Route::SentLrp) return kernel_send(s, msg, flags, route);
  const std::span<const uint8_t> payload = payload_of(msg, plan.length);
  InsideLrp inside;
  TakeoverStats& stats = TakeoverStats::get();
  if (plan.segment == 0) {
    if (plan.native->send_to(plan.to, payload, &plan.from).ok()) {
      stats.count(Route::SentLrp);
      return static_cast<ssize_t>(payload.size());
    }
    return kernel_send(s, msg, flags, Route::SentKernelBusy);
  }
  // UDP_SEGMENT: the kernel splits the payload into datagrams of the
  // segment size (the last may be shorter); so does lrp.
  for (size_t at = 0; at < payload.size(); at += plan.segment) {
    const size_t n = std::min(plan.segment, payload.size() - at);
    if (!plan.native->send_to(plan.to, payload.subspan(at, n), &plan.from).ok())
      return kernel_segments(s, plan, payload, at, flags);
    stats.count(Route::SentLrp);
  }
  return static_cast<ssize_t>(payload.size());
}

int send_messages(TrackedSocket& s, mmsghdr* msgs, unsigned int n, int flags) {
  // Runs of one-datagram messages lrp sends go out as one native batch with
  // one kick; anything else, and whatever a full ring refuses, takes the
  // one-message path.
  constexpr size_t kBatch = 64;
  thread_local std::vector<sockets::OutDatagram> batch;
  const auto flow = s.flow();
  unsigned int sent = 0;
  while (sent < n) {
    batch.clear();
    sockets::UdpSocket* native = nullptr;
    for (unsigned int i = sent; i < n && batch.size() < kBatch; ++i) {
      const msghdr* m = &msgs[i].msg_hdr;
      Plan plan;
      if (m->msg_iovlen != 1 || plan_send(s, flow.get(), m, flags, &plan) != Route::SentLrp ||
          plan.segment != 0 || (native != nullptr && plan.native != native))
        break;
      native = plan.native;
      batch.push_back(sockets::OutDatagram{
          plan.to,
          {static_cast<const uint8_t*>(m->msg_iov[0].iov_base), m->msg_iov[0].iov_len},
          plan.from});
    }
    size_t queued = 0;
    if (native != nullptr) {
      InsideLrp inside;
      auto r = native->send_batch(batch);
      queued = r ? r.value() : 0;
    }
    for (size_t k = 0; k < queued; ++k) {
      msgs[sent + k].msg_len = static_cast<unsigned int>(batch[k].payload.size());
      TakeoverStats::get().count(Route::SentLrp);
    }
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

}  // namespace lrp::preload
