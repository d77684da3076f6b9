#include "lrp/neighbour.h"

#include <linux/neighbour.h>

#include <algorithm>
#include <thread>

namespace lrp {

namespace {

// Entries with a MAC the kernel itself would send to. STALE, DELAY and PROBE
// are being (or about to be) re-verified; the address is still the best known.
constexpr uint16_t kUsableStates =
    NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;

const uint8_t* wire_bytes(int family, const IpAddress& a) {
  return family == AF_INET ? a.v4_bytes() : a.bytes().data();
}
size_t wire_length(int family) {
  return family == AF_INET ? 4 : 16;
}

bool is_limited_broadcast(const IpAddress& a) {
  if (!a.is_v4()) return false;
  const uint8_t* b = a.v4_bytes();
  return b[0] == 0xff && b[1] == 0xff && b[2] == 0xff && b[3] == 0xff;
}

// fe80::/10: scoped to an interface, so the route lookup must name ours.
bool is_v6_link_local(const IpAddress& a) {
  return !a.is_v4() && a.bytes()[0] == 0xfe && (a.bytes()[1] & 0xc0) == 0x80;
}

std::optional<IpAddress> address_from_wire(int family, const void* data, size_t length) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (family == AF_INET && length == 4) return IpAddress::from_v4_bytes(bytes);
  if (family == AF_INET6 && length == 16) return IpAddress::from_v6_bytes(bytes);
  return std::nullopt;
}

// RTAX_MTU inside RTA_METRICS, 0 when absent.
uint32_t route_mtu(const rtattr* metrics) {
  if (metrics == nullptr) return 0;
  const auto* base = static_cast<const uint8_t*>(attribute_data(metrics));
  const size_t length = attribute_length(metrics);
  size_t offset = 0;
  while (offset + sizeof(rtattr) <= length) {
    const auto* a = reinterpret_cast<const rtattr*>(base + offset);
    if (a->rta_len < sizeof(rtattr) || offset + a->rta_len > length) break;
    if ((a->rta_type & NLA_TYPE_MASK) == RTAX_MTU && attribute_length(a) >= sizeof(uint32_t)) {
      uint32_t mtu = 0;
      std::memcpy(&mtu, attribute_data(a), sizeof(mtu));
      return mtu;
    }
    offset += RTA_ALIGN(a->rta_len);
  }
  return 0;
}

bool is_multicast(const IpAddress& a) {
  return a.is_v4() ? (a.v4_bytes()[0] & 0xf0) == 0xe0 : a.bytes()[0] == 0xff;
}

// Multicast destinations need no neighbour: their MAC is derived from the
// group (RFC 1112 section 6.4, RFC 2464 section 7).
MacAddress multicast_mac(const IpAddress& a) {
  if (a.is_v4()) {
    const uint8_t* v4 = a.v4_bytes();
    return {0x01, 0x00, 0x5e, static_cast<uint8_t>(v4[1] & 0x7f), v4[2], v4[3]};
  }
  const auto& b = a.bytes();
  return {0x33, 0x33, b[12], b[13], b[14], b[15]};
}

}  // namespace

NeighbourTable::NeighbourTable(std::chrono::milliseconds cache_ttl) : ttl_(cache_ttl) {
  auto socket = RtnlSocket::open();
  if (socket)
    socket_ = std::move(socket.value());
  else
    open_error_ = socket.error();
}

std::string NeighbourTable::describe(const IpAddress& dst, int ifindex) {
  auto it = names_.find(ifindex);
  if (it == names_.end()) {
    auto name = interface_name(socket_, ifindex);
    if (!name)
      return "resolve neighbour " + dst.to_string() + " on ifindex " + std::to_string(ifindex);
    it = names_.emplace(ifindex, name.value()).first;
  }
  return "resolve neighbour " + dst.to_string() + " on " + it->second;
}

Result<RouteAnswer> NeighbourTable::parse_route(const nlmsghdr& m, const IpAddress& dst,
                                                int ifindex, const std::string& what) {
  const rtmsg* rt = family_header<rtmsg>(m);
  if (rt == nullptr) return make_error(EPROTO, what + ": truncated route");
  std::array<const rtattr*, RTA_MAX + 1> attrs{};
  parse_attributes(m, sizeof(rtmsg), attrs);
  if (rt->rtm_type == RTN_LOCAL)
    return make_error(EXDEV, what + ": it is an address of this host (the kernel delivers it)");
  int oif = 0;
  if (attrs[RTA_OIF] != nullptr) std::memcpy(&oif, attribute_data(attrs[RTA_OIF]), sizeof(oif));
  if (oif != 0 && oif != ifindex)
    return make_error(EXDEV, what + ": the route leaves through ifindex " + std::to_string(oif) +
                                 ", not through this interface");
  RouteAnswer route;
  route.mtu = route_mtu(attrs[RTA_METRICS]);
  if (rt->rtm_type == RTN_BROADCAST) {
    route.fixed_mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    return route;
  }
  if (rt->rtm_type != RTN_UNICAST)
    return make_error(ENETUNREACH,
                      what + ": route of type " + std::to_string(rt->rtm_type) + ", not unicast");
  const int family = rt->rtm_family;
  NextHop hop{family, dst};  // on link unless a gateway is named
  if (attrs[RTA_GATEWAY] != nullptr) {
    auto gw = address_from_wire(family, attribute_data(attrs[RTA_GATEWAY]),
                                attribute_length(attrs[RTA_GATEWAY]));
    if (gw) hop = NextHop{family, *gw};
  } else if (attrs[RTA_VIA] != nullptr && attribute_length(attrs[RTA_VIA]) > sizeof(rtvia)) {
    // An IPv4 route through an IPv6 next hop (RFC 5549).
    const auto* via = static_cast<const rtvia*>(attribute_data(attrs[RTA_VIA]));
    const size_t length = attribute_length(attrs[RTA_VIA]) - sizeof(rtvia);
    auto gw = address_from_wire(via->rtvia_family, via->rtvia_addr, length);
    if (gw) hop = NextHop{via->rtvia_family, *gw};
  }
  route.next_hop = hop;
  return route;
}

Result<RouteAnswer> NeighbourTable::route(const IpAddress& dst, int ifindex) {
  if (open_error_) return *open_error_;
  const std::string what = describe(dst, ifindex);
  RouteAnswer fixed;
  if (is_multicast(dst)) {
    fixed.fixed_mac = multicast_mac(dst);
    return fixed;
  }
  // 255.255.255.255 leaves through whichever interface the sender names.
  if (is_limited_broadcast(dst)) {
    fixed.fixed_mac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    return fixed;
  }
  const int family = dst.family();
  rtmsg header{};
  header.rtm_family = static_cast<uint8_t>(family);
  header.rtm_dst_len = static_cast<uint8_t>(wire_length(family) * 8);
  NetlinkRequest request(RTM_GETROUTE, 0, header);
  request.add(RTA_DST, wire_bytes(family, dst), wire_length(family));
  if (is_v6_link_local(dst)) request.add_u32(RTA_OIF, static_cast<uint32_t>(ifindex));
  std::optional<Result<RouteAnswer>> answer;
  LRP_TRY(socket_.transact(
      request,
      [&](const nlmsghdr& m) {
        if (m.nlmsg_type == RTM_NEWROUTE && !answer) answer = parse_route(m, dst, ifindex, what);
      },
      what + ": look up the route"));
  if (!answer) return make_error(EPROTO, what + ": the kernel sent no route");
  return std::move(*answer);
}

// Asks the kernel to treat the entry as used: it creates it if missing and
// starts ARP or NDP (or re-verifies a STALE one), just as when a kernel socket
// sends there. Our frames bypass the kernel's neighbour layer, so without
// this nudge it would never learn that the entry matters.
Status NeighbourTable::nudge(const NextHop& hop, int ifindex, const std::string& what) {
  ndmsg header{};
  header.ndm_family = static_cast<uint8_t>(hop.family);
  header.ndm_ifindex = ifindex;
  header.ndm_state = NUD_NONE;
  header.ndm_flags = NTF_USE;
  NetlinkRequest request(RTM_NEWNEIGH, NLM_F_CREATE, header);
  request.add(NDA_DST, wire_bytes(hop.family, hop.address), wire_length(hop.family));
  return socket_.transact(
      request, [](const nlmsghdr&) {}, what + ": start probing " + hop.address.to_string());
}

Result<NeighbourAnswer> NeighbourTable::neighbour(const NextHop& hop, int ifindex) {
  if (open_error_) return *open_error_;
  const std::string what = describe(hop.address, ifindex);
  ndmsg header{};
  header.ndm_family = static_cast<uint8_t>(hop.family);
  header.ndm_ifindex = ifindex;
  NetlinkRequest request(RTM_GETNEIGH, 0, header);
  request.add(NDA_DST, wire_bytes(hop.family, hop.address), wire_length(hop.family));
  uint16_t state = NUD_NONE;
  std::optional<MacAddress> mac;
  auto asked = socket_.transact(
      request,
      [&](const nlmsghdr& m) {
        const ndmsg* nd = family_header<ndmsg>(m);
        if (m.nlmsg_type != RTM_NEWNEIGH || nd == nullptr) return;
        std::array<const rtattr*, NDA_MAX + 1> attrs{};
        parse_attributes(m, sizeof(ndmsg), attrs);
        state = nd->ndm_state;
        if (attrs[NDA_LLADDR] != nullptr && attribute_length(attrs[NDA_LLADDR]) == 6) {
          mac.emplace();
          std::memcpy(mac->data(), attribute_data(attrs[NDA_LLADDR]), 6);
        }
      },
      what + ": look up " + hop.address.to_string());
  // ENOENT: no entry yet, the usual start.
  if (!asked && asked.error().code != ENOENT) return asked.error();

  NeighbourAnswer answer;
  if ((state & kUsableStates) != 0) {
    if (!mac) return make_error(EPROTONOSUPPORT, what + ": the neighbour has no Ethernet address");
    answer.mac = *mac;
    answer.state = NeighbourAnswer::State::Usable;
    if ((state & NUD_STALE) != 0) {
      LRP_TRY(nudge(hop, ifindex, what));
      answer.state = NeighbourAnswer::State::Stale;
    }
    return answer;
  }
  // INCOMPLETE: the kernel is probing already; anything else needs a start.
  if ((state & NUD_INCOMPLETE) == 0) LRP_TRY(nudge(hop, ifindex, what));
  answer.state = (state & NUD_FAILED) != 0 ? NeighbourAnswer::State::Failed
                                           : NeighbourAnswer::State::Resolving;
  return answer;
}

void NeighbourTable::remember(const Key& key, const MacAddress& mac) {
  if (cache_.size() >= kCacheCapacity) {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(cache_, [&](const auto& kv) { return kv.second.expires <= now; });
    if (cache_.size() >= kCacheCapacity) cache_.erase(cache_.begin());
  }
  cache_[key] = Entry{mac, std::chrono::steady_clock::now() + ttl_};
}

Result<MacAddress> NeighbourTable::resolve(const IpAddress& dst, int ifindex) {
  const Key key{dst, ifindex};
  if (auto it = cache_.find(key); it != cache_.end()) {
    if (it->second.expires > std::chrono::steady_clock::now()) return it->second.mac;
    cache_.erase(it);
  }
  auto route = this->route(dst, ifindex);
  if (!route) return route.error();
  if (!route->next_hop) return route->fixed_mac;
  auto answer = neighbour(*route->next_hop, ifindex);
  if (!answer) return answer.error();
  const std::string hop = route->next_hop->address.to_string();
  switch (answer->state) {
    case NeighbourAnswer::State::Usable:
    case NeighbourAnswer::State::Stale:
      remember(key, answer->mac);
      return answer->mac;
    case NeighbourAnswer::State::Failed:
      return make_error(EHOSTUNREACH, describe(dst, ifindex) + ": next hop " + hop +
                                          " did not answer; probing again");
    case NeighbourAnswer::State::Resolving:
      break;
  }
  return make_error(EAGAIN,
                    describe(dst, ifindex) + ": next hop " + hop + " not resolved yet, retry");
}

Result<MacAddress> NeighbourTable::resolve_wait(const IpAddress& dst, int ifindex,
                                                std::chrono::milliseconds timeout) {
  using std::chrono::milliseconds;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool kernel_gave_up = false;
  milliseconds pause{1};
  for (;;) {
    auto mac = resolve(dst, ifindex);
    if (mac) return mac;
    const int code = mac.error().code;
    if (code != EAGAIN && code != EHOSTUNREACH) return mac.error();
    kernel_gave_up |= code == EHOSTUNREACH;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return make_error(
          kernel_gave_up ? EHOSTUNREACH : ETIMEDOUT,
          describe(dst, ifindex) + ": no answer within " + std::to_string(timeout.count()) + " ms");
    // ARP and NDP answer in well under a millisecond on a LAN; back off
    // gently so a slow peer does not cost a netlink round trip per millisecond.
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, milliseconds{32});
  }
}

void NeighbourTable::invalidate(const IpAddress& dst, int ifindex) {
  cache_.erase(Key{dst, ifindex});
}

void NeighbourTable::clear() {
  cache_.clear();
  names_.clear();
}

}  // namespace lrp
