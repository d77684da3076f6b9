#include "lrp/netdev.h"

// <net/if.h> first: <linux/if.h> then adds only what glibc lacks (IFF_LOWER_UP).
#include <net/if.h>
// clang-format off
#include <linux/if.h>
// clang-format on
#include <linux/ethtool.h>
#include <linux/if_addr.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>

namespace lrp {

// ---- rtnetlink plumbing ----

namespace {

// The kernel answers requests while we are still in sendmsg(); a reply that
// takes this long means something is badly wrong, not that we should wait.
constexpr int kReplyTimeoutMs = 2000;
// Dump replies come in chunks of at most 32 KiB (more only when asked for).
constexpr size_t kReceiveBufferSize = 64 * 1024;

// The kernel's own explanation from an extended ack, when it sent one.
std::string extended_ack_message(const nlmsghdr& m) {
  if ((m.nlmsg_flags & NLM_F_ACK_TLVS) == 0) return "";
  const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(&m));
  size_t offset = NLMSG_ALIGN(sizeof(nlmsgerr));
  // Without NLM_F_CAPPED the request's payload is echoed before the TLVs.
  if ((m.nlmsg_flags & NLM_F_CAPPED) == 0)
    offset += NLMSG_ALIGN(error->msg.nlmsg_len - sizeof(nlmsghdr));
  const size_t end = m.nlmsg_len - NLMSG_HDRLEN;
  const auto* base = static_cast<const uint8_t*>(NLMSG_DATA(&m));
  while (offset + sizeof(nlattr) <= end) {
    const auto* a = reinterpret_cast<const nlattr*>(base + offset);
    if (a->nla_len < sizeof(nlattr) || offset + a->nla_len > end) break;
    if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* text = reinterpret_cast<const char*>(a) + NLA_HDRLEN;
      return std::string(text, strnlen(text, a->nla_len - NLA_HDRLEN));
    }
    offset += NLA_ALIGN(a->nla_len);
  }
  return "";
}

// Calls fn for each complete message in a received buffer; fn returns false to stop.
template <class Fn>
void for_each_message(const uint8_t* data, size_t length, Fn&& fn) {
  size_t offset = 0;
  while (offset + sizeof(nlmsghdr) <= length) {
    const auto* h = reinterpret_cast<const nlmsghdr*>(data + offset);
    if (h->nlmsg_len < sizeof(nlmsghdr) || offset + h->nlmsg_len > length) return;
    if (!fn(*h)) return;
    offset += NLMSG_ALIGN(h->nlmsg_len);
  }
}

}  // namespace

void NetlinkRequest::add(uint16_t attribute, const void* data, size_t length) {
  nlmsghdr* m = message();
  const size_t at = NLMSG_ALIGN(m->nlmsg_len);
  if (at + RTA_SPACE(length) > buffer_.size()) {
    overflowed_ = true;
    return;
  }
  auto* a = reinterpret_cast<rtattr*>(buffer_.data() + at);
  a->rta_type = attribute;
  a->rta_len = static_cast<uint16_t>(RTA_LENGTH(length));
  std::memcpy(RTA_DATA(a), data, length);
  m->nlmsg_len = static_cast<uint32_t>(at + RTA_ALIGN(a->rta_len));
}

void parse_attributes(const nlmsghdr& m, size_t family_header_size,
                      std::span<const rtattr*> table) {
  const size_t start = NLMSG_LENGTH(family_header_size);
  if (m.nlmsg_len < start) return;
  const auto* base = reinterpret_cast<const uint8_t*>(&m);
  size_t offset = NLMSG_ALIGN(start);
  while (offset + sizeof(rtattr) <= m.nlmsg_len) {
    const auto* a = reinterpret_cast<const rtattr*>(base + offset);
    if (a->rta_len < sizeof(rtattr) || offset + a->rta_len > m.nlmsg_len) return;
    // Nested and byte-order flags share the type field.
    const uint16_t type = a->rta_type & NLA_TYPE_MASK;
    if (type < table.size()) table[type] = a;
    offset += RTA_ALIGN(a->rta_len);
  }
}

RtnlSocket::RtnlSocket(int fd, uint32_t port_id)
    : fd_(fd), port_id_(port_id), buffer_(kReceiveBufferSize) {}

RtnlSocket::RtnlSocket(RtnlSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      port_id_(other.port_id_),
      sequence_(other.sequence_),
      notifications_lost_(other.notifications_lost_),
      buffer_(std::move(other.buffer_)) {}

RtnlSocket& RtnlSocket::operator=(RtnlSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    port_id_ = other.port_id_;
    sequence_ = other.sequence_;
    notifications_lost_ = other.notifications_lost_;
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

RtnlSocket::~RtnlSocket() {
  if (fd_ >= 0) close(fd_);
}

Result<RtnlSocket> RtnlSocket::open(uint32_t groups) {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) return errno_error("open an rtnetlink socket");
  RtnlSocket s(fd, 0);
  // Ask for the kernel's reason with each error, without the echoed request.
  const int one = 1;
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = groups;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0)
    return errno_error("bind an rtnetlink socket");
  socklen_t length = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0)
    return errno_error("read the rtnetlink port id");
  s.port_id_ = local.nl_pid;
  return s;
}

Result<size_t> RtnlSocket::receive(int timeout_ms, const std::string& what) {
  for (;;) {
    const ssize_t n = recv(fd_, buffer_.data(), buffer_.size(), MSG_TRUNC);
    if (n >= 0) {
      if (static_cast<size_t>(n) > buffer_.size())
        return make_error(EMSGSIZE, what + ": reply larger than the receive buffer");
      return static_cast<size_t>(n);
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN || timeout_ms == 0) return errno_error(what);
    pollfd p{fd_, POLLIN, 0};
    const int ready = poll(&p, 1, timeout_ms);
    if (ready < 0 && errno != EINTR) return errno_error(what);
    if (ready == 0) return make_error(ETIMEDOUT, what + ": no reply from the kernel");
  }
}

Status RtnlSocket::transact(NetlinkRequest& request, const Handler& on_reply,
                            const std::string& what, const Handler& on_notification) {
  if (request.overflowed()) return make_error(EMSGSIZE, what + ": request too large");
  nlmsghdr* m = request.message();
  m->nlmsg_flags |= NLM_F_REQUEST;
  // A dump ends with NLMSG_DONE; anything else ends with an ack.
  const bool dump = (m->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (!dump) m->nlmsg_flags |= NLM_F_ACK;
  m->nlmsg_seq = ++sequence_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    if (sendto(fd_, m, m->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) >= 0)
      break;
    if (errno != EINTR) return errno_error(what);
  }
  for (;;) {
    auto received = receive(kReplyTimeoutMs, what);
    // A subscriber's queue overflowed: notifications were dropped, but the
    // replies to this request still come. The caller learns of the loss.
    if (!received && received.error().code == ENOBUFS && on_notification) {
      notifications_lost_ = true;
      continue;
    }
    if (!received) return received.error();
    std::optional<Status> outcome;
    for_each_message(buffer_.data(), received.value(), [&](const nlmsghdr& h) {
      if (h.nlmsg_pid != port_id_ || h.nlmsg_seq != sequence_) {
        if (on_notification) on_notification(h);
        return true;
      }
      if (h.nlmsg_type == NLMSG_DONE) {
        int error = 0;
        if (h.nlmsg_len >= NLMSG_LENGTH(sizeof(error)))
          std::memcpy(&error, NLMSG_DATA(&h), sizeof(error));
        outcome = error == 0 ? Status{} : Status{make_error(error, what)};
        return false;
      }
      if (h.nlmsg_type == NLMSG_ERROR) {
        const auto* e = family_header<nlmsgerr>(h);
        if (e == nullptr) {
          outcome = make_error(EPROTO, what + ": truncated netlink error");
        } else if (e->error == 0) {
          outcome = Status{};
        } else {
          const std::string reason = extended_ack_message(h);
          outcome = make_error(e->error, reason.empty() ? what : what + " (" + reason + ")");
        }
        return false;
      }
      on_reply(h);
      return true;
    });
    if (outcome.has_value()) return *outcome;
  }
}

Result<bool> RtnlSocket::receive_pending(const Handler& on_message) {
  auto received = receive(0, "read rtnetlink notifications");
  if (!received) {
    if (received.error().code == EAGAIN) return false;
    return received.error();
  }
  for_each_message(buffer_.data(), received.value(), [&](const nlmsghdr& h) {
    on_message(h);
    return true;
  });
  return true;
}

// ---- interfaces ----

namespace {

// Up for lrp means frames can flow: administratively up and carrier present.
bool flags_say_up(unsigned flags) {
  return (flags & IFF_UP) != 0 && (flags & IFF_LOWER_UP) != 0;
}

std::string attribute_string(const rtattr* a) {
  const char* s = static_cast<const char*>(attribute_data(a));
  return std::string(s, strnlen(s, attribute_length(a)));
}

uint32_t attribute_u32(const rtattr* a) {
  uint32_t v = 0;
  if (attribute_length(a) >= sizeof(v)) std::memcpy(&v, attribute_data(a), sizeof(v));
  return v;
}

// An RTM_NEWLINK message into the link half of InterfaceInfo.
InterfaceInfo link_from_message(const nlmsghdr& m) {
  InterfaceInfo info;
  const ifinfomsg* ifi = family_header<ifinfomsg>(m);
  if (ifi == nullptr) return info;
  std::array<const rtattr*, IFLA_MAX + 1> attrs{};
  parse_attributes(m, sizeof(ifinfomsg), attrs);
  info.ifindex = ifi->ifi_index;
  info.up = flags_say_up(ifi->ifi_flags);
  if (attrs[IFLA_IFNAME] != nullptr) info.name = attribute_string(attrs[IFLA_IFNAME]);
  if (attrs[IFLA_ADDRESS] != nullptr && attribute_length(attrs[IFLA_ADDRESS]) == 6)
    std::memcpy(info.mac.data(), attribute_data(attrs[IFLA_ADDRESS]), 6);
  if (attrs[IFLA_MTU] != nullptr) info.mtu = attribute_u32(attrs[IFLA_MTU]);
  if (attrs[IFLA_NUM_RX_QUEUES] != nullptr)
    info.rx_queues = attribute_u32(attrs[IFLA_NUM_RX_QUEUES]);
  return info;
}

// One link by name or by index; the kernel answers ENODEV when it has none.
Result<InterfaceInfo> query_link(RtnlSocket& socket, const std::string& name, int ifindex,
                                 const std::string& what) {
  ifinfomsg header{};
  header.ifi_family = AF_UNSPEC;
  header.ifi_index = ifindex;
  NetlinkRequest request(RTM_GETLINK, 0, header);
  if (!name.empty()) request.add_string(IFLA_IFNAME, name);
  // Counters and VF details are not needed; they only make the answer large.
  request.add_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  InterfaceInfo info;
  bool answered = false;
  LRP_TRY(socket.transact(
      request,
      [&](const nlmsghdr& m) {
        if (m.nlmsg_type != RTM_NEWLINK) return;
        info = link_from_message(m);
        answered = true;
      },
      what));
  if (!answered) return make_error(EPROTO, what + ": the kernel sent no link");
  return info;
}

// IPv4 takes IFA_LOCAL: on point-to-point links IFA_ADDRESS is the peer's.
Status add_addresses(RtnlSocket& socket, InterfaceInfo* info) {
  ifaddrmsg header{};
  header.ifa_family = AF_UNSPEC;
  NetlinkRequest request(RTM_GETADDR, NLM_F_DUMP, header);
  std::vector<std::pair<uint8_t, IpAddress>> by_scope;
  LRP_TRY(socket.transact(
      request,
      [&](const nlmsghdr& m) {
        const ifaddrmsg* ifa = family_header<ifaddrmsg>(m);
        if (m.nlmsg_type != RTM_NEWADDR || ifa == nullptr) return;
        if (static_cast<int>(ifa->ifa_index) != info->ifindex) return;
        std::array<const rtattr*, IFA_MAX + 1> attrs{};
        parse_attributes(m, sizeof(ifaddrmsg), attrs);
        const uint32_t flags =
            attrs[IFA_FLAGS] != nullptr ? attribute_u32(attrs[IFA_FLAGS]) : ifa->ifa_flags;
        if ((flags & IFA_F_DADFAILED) != 0) return;  // never usable as a source
        const auto* data = static_cast<const uint8_t*>(nullptr);
        if (ifa->ifa_family == AF_INET) {
          const rtattr* a = attrs[IFA_LOCAL] != nullptr ? attrs[IFA_LOCAL] : attrs[IFA_ADDRESS];
          if (a != nullptr && attribute_length(a) == 4)
            data = static_cast<const uint8_t*>(attribute_data(a));
          if (data != nullptr)
            by_scope.emplace_back(ifa->ifa_scope, IpAddress::from_v4_bytes(data));
        } else if (ifa->ifa_family == AF_INET6) {
          const rtattr* a = attrs[IFA_ADDRESS];
          if (a != nullptr && attribute_length(a) == 16)
            data = static_cast<const uint8_t*>(attribute_data(a));
          if (data != nullptr)
            by_scope.emplace_back(ifa->ifa_scope, IpAddress::from_v6_bytes(data));
        }
      },
      "list the addresses of " + info->name));
  // RT_SCOPE_UNIVERSE is 0, link scope 253: ascending scope puts global first.
  std::stable_sort(by_scope.begin(), by_scope.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [scope, address] : by_scope) info->addresses.push_back(address);
  return {};
}

// IFLA_NUM_RX_QUEUES counts the queues the device allocated; a driver may use
// fewer (ethtool -L), and AF_XDP binds only to those in use. The ioctl goes
// through the netlink socket, so it answers for the same namespace.
Status use_active_rx_queues(RtnlSocket& socket, InterfaceInfo* info) {
  ethtool_channels channels{};
  channels.cmd = ETHTOOL_GCHANNELS;
  ifreq request{};
  std::memcpy(request.ifr_name, info->name.c_str(), info->name.size() + 1);
  request.ifr_data = reinterpret_cast<char*>(&channels);
  if (ioctl(socket.fd(), SIOCETHTOOL, &request) != 0) {
    // Drivers without channels (lo, dummy...) use every queue they allocate.
    if (errno == EOPNOTSUPP) return {};
    return errno_error("read the channel counts of " + info->name);
  }
  const uint32_t active = channels.rx_count + channels.combined_count;
  if (active != 0) info->rx_queues = std::min(info->rx_queues, active);
  return {};
}

}  // namespace

Result<InterfaceInfo> query_interface(const std::string& name) {
  const std::string not_found = "interface " + name + " not found";
  // No such name can exist; the kernel would call it an invalid argument.
  if (name.empty() || name.size() >= IFNAMSIZ) return make_error(ENODEV, not_found);
  auto socket = RtnlSocket::open();
  if (!socket) return socket.error();
  auto info = query_link(socket.value(), name, 0, "query interface " + name);
  if (!info) {
    if (info.error().code == ENODEV) return make_error(ENODEV, not_found);
    return info.error();
  }
  LRP_TRY(add_addresses(socket.value(), &info.value()));
  LRP_TRY(use_active_rx_queues(socket.value(), &info.value()));
  return info;
}

Result<std::string> interface_driver(const std::string& ifname) {
  const std::string what = "read the driver of " + ifname;
  if (ifname.empty() || ifname.size() >= IFNAMSIZ)
    return make_error(ENODEV, "interface " + ifname + " not found");
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error(what);
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  ifreq request{};
  std::memcpy(request.ifr_name, ifname.c_str(), ifname.size() + 1);
  request.ifr_data = reinterpret_cast<char*>(&info);
  const int rc = ioctl(fd, SIOCETHTOOL, &request);
  const int err = errno;
  close(fd);
  if (rc != 0) {
    if (err == EOPNOTSUPP) return std::string();
    if (err == ENODEV) return make_error(ENODEV, "interface " + ifname + " not found");
    return make_error(err, what);
  }
  return std::string(info.driver, strnlen(info.driver, sizeof(info.driver)));
}

bool driver_passes_partial_checksums(std::string_view driver) {
  return driver == "veth";
}

Result<bool> driver_may_pass_partial_checksums(const std::string& ifname) {
  auto driver = interface_driver(ifname);
  if (!driver) return driver.error();
  return driver_passes_partial_checksums(driver.value());
}

Result<bool> interface_is_up(int ifindex) {
  auto socket = RtnlSocket::open();
  if (!socket) return socket.error();
  const std::string what = "query interface " + std::to_string(ifindex);
  auto info = query_link(socket.value(), "", ifindex, what);
  if (!info) return info.error();
  return info->up;
}

Result<std::string> interface_name(RtnlSocket& socket, int ifindex) {
  auto info = query_link(socket, "", ifindex, "query interface " + std::to_string(ifindex));
  if (!info) return info.error();
  return info->name;
}

Result<LinkWatcher> LinkWatcher::open() {
  auto socket = RtnlSocket::open(RTMGRP_LINK);
  if (!socket) return socket.error();
  LinkWatcher watcher;
  watcher.socket_ = std::move(socket.value());
  std::vector<LinkEvent> ignored;
  LRP_TRY(watcher.resynchronise(&ignored));
  return watcher;
}

void LinkWatcher::note(const nlmsghdr& m, std::vector<LinkEvent>* events, std::vector<int>* seen) {
  const ifinfomsg* ifi = family_header<ifinfomsg>(m);
  // Bridge port messages share the group; they say nothing about the link.
  if (ifi == nullptr || ifi->ifi_family != AF_UNSPEC) return;
  if (m.nlmsg_type != RTM_NEWLINK && m.nlmsg_type != RTM_DELLINK) return;
  InterfaceInfo link = link_from_message(m);
  if (seen != nullptr) seen->push_back(link.ifindex);
  if (m.nlmsg_type == RTM_DELLINK) {
    up_.erase(link.ifindex);
    events->push_back(LinkEvent{link.ifindex, link.name, LinkState::Deleted});
    return;
  }
  auto [it, inserted] = up_.try_emplace(link.ifindex, link.up);
  if (!inserted && it->second == link.up) return;
  it->second = link.up;
  events->push_back(LinkEvent{link.ifindex, link.name, link.up ? LinkState::Up : LinkState::Down});
}

Status LinkWatcher::resynchronise(std::vector<LinkEvent>* events) {
  // Each round replaces what we know with a dump; notifications lost during
  // a round (the dump itself can fill the queue) call for another.
  constexpr int kRounds = 8;
  for (int round = 0; round < kRounds; ++round) {
    const auto before = up_;
    std::vector<int> seen;
    ifinfomsg header{};
    header.ifi_family = AF_UNSPEC;
    NetlinkRequest request(RTM_GETLINK, NLM_F_DUMP, header);
    request.add_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    // Notifications during the dump are newer than what the dump said before
    // them, so both go through note() in arrival order.
    const auto handle = [&](const nlmsghdr& m) { note(m, events, &seen); };
    LRP_TRY(socket_.transact(request, handle, "list links", handle));
    for (const auto& [ifindex, was_up] : before) {
      if (std::find(seen.begin(), seen.end(), ifindex) != seen.end()) continue;
      up_.erase(ifindex);
      events->push_back(LinkEvent{ifindex, "", LinkState::Deleted});
    }
    if (!socket_.take_notifications_lost()) return {};
  }
  return make_error(ENOBUFS, "list links: notifications kept overflowing the socket");
}

Result<std::vector<LinkEvent>> LinkWatcher::poll_events() {
  std::vector<LinkEvent> events;
  for (;;) {
    auto got = socket_.receive_pending([&](const nlmsghdr& m) { note(m, &events, nullptr); });
    if (got) {
      if (!got.value()) return events;
      continue;
    }
    // The kernel dropped notifications when our queue was full.
    if (got.error().code != ENOBUFS) return got.error();
    LRP_TRY(resynchronise(&events));
  }
}

}  // namespace lrp
