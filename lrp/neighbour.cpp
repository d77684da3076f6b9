#include "lrp/neighbour.h"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

namespace lrp {

namespace {

constexpr size_t kBuf = 16384;

struct Request {
  nlmsghdr hdr;
  union {
    rtmsg rt;
    ndmsg nd;
  };
  char attrs[256];
};

void add_attr(nlmsghdr* hdr, uint16_t type, const void* data, size_t len) {
  auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(hdr) + NLMSG_ALIGN(hdr->nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(rta), data, len);
  hdr->nlmsg_len = NLMSG_ALIGN(hdr->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

const void* addr_bytes(const IpAddress& a) {
  return a.is_v4() ? static_cast<const void*>(a.v4_bytes())
                   : static_cast<const void*>(a.bytes().data());
}
size_t addr_len(const IpAddress& a) { return a.is_v4() ? 4 : 16; }

IpAddress addr_from(const void* data, size_t len) {
  if (len == 4) return IpAddress::from_v4_bytes(static_cast<const uint8_t*>(data));
  in6_addr v6;
  std::memcpy(&v6, data, 16);
  return IpAddress::from_v6(v6);
}

}  // namespace

NeighbourTable::~NeighbourTable() {
  if (fd_ >= 0) close(fd_);
}

Status NeighbourTable::open_socket() {
  if (fd_ >= 0) return {};
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) return errno_error("open rtnetlink socket");
  timeval tv{1, 0};  // a kernel answer never takes this long; never hang
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return {};
}

Status NeighbourTable::request(void* msg, size_t len, const char* what) {
  LRP_TRY(open_socket());
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_, msg, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0)
    return errno_error(what);
  return {};
}

Result<IpAddress> NeighbourTable::next_hop(const IpAddress& dst, int ifindex) {
  Request req{};
  req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  req.hdr.nlmsg_type = RTM_GETROUTE;
  req.hdr.nlmsg_flags = NLM_F_REQUEST;
  req.hdr.nlmsg_seq = ++seq_;
  req.rt.rtm_family = static_cast<unsigned char>(dst.family());
  req.rt.rtm_dst_len = static_cast<unsigned char>(addr_len(dst) * 8);
  add_attr(&req.hdr, RTA_DST, addr_bytes(dst), addr_len(dst));
  const std::string what = "look up the route to " + dst.to_string();
  LRP_TRY(request(&req, req.hdr.nlmsg_len, what.c_str()));
  char buf[kBuf];
  ssize_t n = recv(fd_, buf, sizeof(buf), 0);
  if (n < 0) return errno_error(what);
  IpAddress hop = dst;
  int oif = 0;
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<size_t>(n));
       h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_seq != seq_) continue;
    if (h->nlmsg_type == NLMSG_ERROR) {
      const int err = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
      if (err != 0) return make_error(err, what);
      continue;
    }
    if (h->nlmsg_type != RTM_NEWROUTE) continue;
    auto* rt = reinterpret_cast<rtmsg*>(NLMSG_DATA(h));
    int len = static_cast<int>(RTM_PAYLOAD(h));
    for (auto* a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      if (a->rta_type == RTA_GATEWAY) hop = addr_from(RTA_DATA(a), RTA_PAYLOAD(a));
      if (a->rta_type == RTA_OIF) std::memcpy(&oif, RTA_DATA(a), sizeof(oif));
    }
  }
  if (oif != 0 && oif != ifindex)
    return make_error(ENETUNREACH, what + ": the route leaves through another interface");
  return hop;
}

Result<MacAddress> NeighbourTable::lookup_neighbour(const IpAddress& hop, int ifindex) {
  Request req{};
  req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(ndmsg));
  req.hdr.nlmsg_type = RTM_GETNEIGH;
  req.hdr.nlmsg_flags = NLM_F_REQUEST;
  req.hdr.nlmsg_seq = ++seq_;
  req.nd.ndm_family = static_cast<uint8_t>(hop.family());
  req.nd.ndm_ifindex = ifindex;
  add_attr(&req.hdr, NDA_DST, addr_bytes(hop), addr_len(hop));
  const std::string what = "look up the neighbour " + hop.to_string();
  LRP_TRY(request(&req, req.hdr.nlmsg_len, what.c_str()));
  char buf[kBuf];
  ssize_t n = recv(fd_, buf, sizeof(buf), 0);
  if (n < 0) return errno_error(what);
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<size_t>(n));
       h = NLMSG_NEXT(h, n)) {
    if (h->nlmsg_seq != seq_) continue;
    if (h->nlmsg_type == NLMSG_ERROR) {
      const int err = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
      return make_error(err == 0 ? ENOENT : err, what);
    }
    if (h->nlmsg_type != RTM_NEWNEIGH) continue;
    auto* nd = reinterpret_cast<ndmsg*>(NLMSG_DATA(h));
    constexpr uint16_t usable =
        NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;
    if ((nd->ndm_state & usable) == 0) return make_error(EAGAIN, what + ": not resolved yet");
    int len = static_cast<int>(RTM_PAYLOAD(h));
    for (auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(nd) +
                                             NLMSG_ALIGN(sizeof(ndmsg)));
         RTA_OK(a, len); a = RTA_NEXT(a, len)) {
      if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
        MacAddress mac;
        std::memcpy(mac.data(), RTA_DATA(a), 6);
        return mac;
      }
    }
  }
  return make_error(ENOENT, what);
}

// NTF_USE makes the kernel create the entry if needed and start ARP or NDP
// for it, exactly as if it had a packet to send there; nothing is sent by us.
Status NeighbourTable::trigger_resolution(const IpAddress& hop, int ifindex) {
  Request req{};
  req.hdr.nlmsg_len = NLMSG_LENGTH(sizeof(ndmsg));
  req.hdr.nlmsg_type = RTM_NEWNEIGH;
  req.hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
  req.hdr.nlmsg_seq = ++seq_;
  req.nd.ndm_family = static_cast<uint8_t>(hop.family());
  req.nd.ndm_ifindex = ifindex;
  req.nd.ndm_state = NUD_NONE;
  req.nd.ndm_flags = NTF_USE;
  add_attr(&req.hdr, NDA_DST, addr_bytes(hop), addr_len(hop));
  const std::string what = "start resolving " + hop.to_string();
  LRP_TRY(request(&req, req.hdr.nlmsg_len, what.c_str()));
  char buf[kBuf];
  ssize_t n = recv(fd_, buf, sizeof(buf), 0);
  if (n < 0) return errno_error(what);
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  if (NLMSG_OK(h, static_cast<size_t>(n)) && h->nlmsg_type == NLMSG_ERROR) {
    const int err = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
    if (err != 0) return make_error(err, what);
  }
  return {};
}

Result<MacAddress> NeighbourTable::resolve(const IpAddress& dst, int ifindex) {
  const auto now = std::chrono::steady_clock::now();
  if (auto it = cache_.find(dst); it != cache_.end() && it->second.expires > now)
    return it->second.mac;
  auto hop = next_hop(dst, ifindex);
  if (!hop) return hop.error();
  auto mac = lookup_neighbour(hop.value(), ifindex);
  if (mac) {
    cache_[dst] = Entry{mac.value(), now + kCacheTtl};
    return mac;
  }
  cache_.erase(dst);
  if (mac.error().code != EAGAIN && mac.error().code != ENOENT) return mac.error();
  LRP_TRY(trigger_resolution(hop.value(), ifindex));
  return make_error(EAGAIN, "resolving the MAC address of " + hop.value().to_string());
}

Result<MacAddress> NeighbourTable::resolve_wait(const IpAddress& dst, int ifindex,
                                                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto mac = resolve(dst, ifindex);
    if (mac || mac.error().code != EAGAIN) return mac;
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(EHOSTUNREACH, "no answer resolving " + dst.to_string());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace lrp
