#include "tests/fuzz/xdp_reference.h"

#include <algorithm>
#include <cstring>

namespace lrp::fuzz {

namespace {

constexpr size_t kEth = 14;
constexpr size_t kTag = 4;
constexpr size_t kIp4 = 20;
constexpr size_t kIp6 = 40;
constexpr size_t kUdp = 8;
constexpr size_t kExtMin = 8;
// The program walks at most this many hop-by-hop / routing / destination
// options headers; a longer chain is passed as "not walked".
constexpr int kExtWalk = 4;

uint16_t be16(std::span<const uint8_t> f, size_t at) {
  return static_cast<uint16_t>(f[at] << 8 | f[at + 1]);
}

bool is_tag(uint16_t ethertype) {
  return ethertype == 0x8100 || ethertype == 0x88a8;
}

bool walkable(uint8_t next) {
  return next == 0 || next == 43 || next == 60;
}

// Where the network layer starts and what it is, or the reason to pass.
struct Link {
  uint16_t ethertype = 0;
  size_t l3 = kEth;
  uint16_t vlan = 0;  // VLAN ID of the tag in the frame; 0 when untagged
};

std::optional<lrp_global_counter> link_layer(std::span<const uint8_t> f, Link* link) {
  if (f.size() < kEth) return LRP_G_PASS_MALFORMED;
  link->ethertype = be16(f, 12);
  if (is_tag(link->ethertype)) {
    if (f.size() < kEth + kTag) return LRP_G_PASS_MALFORMED;
    link->vlan = be16(f, kEth) & 0x0fff;
    link->ethertype = be16(f, kEth + 2);
    link->l3 = kEth + kTag;
    // A second tag is the stack's business, and lrp never binds inside one.
    if (is_tag(link->ethertype)) return LRP_G_PASS_MALFORMED;
  }
  if (link->ethertype != 0x0800 && link->ethertype != 0x86dd) return LRP_G_PASS_NOT_IP;
  return std::nullopt;
}

// What the IP layer hands to the UDP step.
struct Ip {
  Link link;
  Tuple tuple;
  size_t l4 = 0;           // offset of the UDP header (may be past the frame)
  int64_t l4_len = 0;      // IP payload bytes the IP header declares from l4 on
  bool lengths_ok = true;  // the IP lengths fit the frame and the headers
};

std::optional<lrp_global_counter> ipv4_layer(std::span<const uint8_t> f, size_t l3, Ip* ip) {
  if (f.size() < l3 + kIp4) return LRP_G_PASS_MALFORMED;
  const uint8_t version = f[l3] >> 4;
  const size_t header = static_cast<size_t>(f[l3] & 0x0f) * 4;
  if (version != 4 || header < kIp4) return LRP_G_PASS_MALFORMED;
  if (f.size() < l3 + header) return LRP_G_PASS_MALFORMED;
  const size_t total = be16(f, l3 + 2);
  // Ethernet padding may follow the packet: the total is only bounded above.
  ip->lengths_ok = total >= header && l3 + total <= f.size();
  const bool fragment = (be16(f, l3 + 6) & 0x3fff) != 0;  // MF or an offset
  if (fragment) return ip->lengths_ok ? LRP_G_PASS_FRAGMENT : LRP_G_PASS_MALFORMED;
  if (f[l3 + 9] != 17) return ip->lengths_ok ? LRP_G_PASS_NOT_UDP : LRP_G_PASS_MALFORMED;
  ip->tuple.family = 4;
  ip->tuple.local[10] = ip->tuple.local[11] = 0xff;
  ip->tuple.remote[10] = ip->tuple.remote[11] = 0xff;
  std::memcpy(ip->tuple.local + 12, &f[l3 + 16], 4);
  std::memcpy(ip->tuple.remote + 12, &f[l3 + 12], 4);
  ip->l4 = l3 + header;
  ip->l4_len = static_cast<int64_t>(total) - static_cast<int64_t>(header);
  return std::nullopt;
}

std::optional<lrp_global_counter> ipv6_layer(std::span<const uint8_t> f, size_t l3, Ip* ip) {
  if (f.size() < l3 + kIp6) return LRP_G_PASS_MALFORMED;
  if (f[l3] >> 4 != 6) return LRP_G_PASS_MALFORMED;
  const size_t payload = be16(f, l3 + 4);
  ip->lengths_ok = l3 + kIp6 + payload <= f.size();
  uint8_t next = f[l3 + 6];
  size_t at = l3 + kIp6;
  size_t ext = 0;
  for (int walked = 0; walked < kExtWalk && walkable(next); ++walked) {
    if (f.size() < at + kExtMin) return LRP_G_PASS_MALFORMED;
    const size_t len = (static_cast<size_t>(f[at + 1]) + 1) * 8;
    next = f[at];
    at += len;
    ext += len;
  }
  if (ext > payload) ip->lengths_ok = false;
  if (next == 44) return ip->lengths_ok ? LRP_G_PASS_FRAGMENT : LRP_G_PASS_MALFORMED;
  if (walkable(next)) return LRP_G_PASS_IPV6_EXT;
  if (next != 17) return ip->lengths_ok ? LRP_G_PASS_NOT_UDP : LRP_G_PASS_MALFORMED;
  ip->tuple.family = 6;
  std::memcpy(ip->tuple.local, &f[l3 + 24], 16);
  std::memcpy(ip->tuple.remote, &f[l3 + 8], 16);
  ip->l4 = at;
  ip->l4_len = static_cast<int64_t>(payload) - static_cast<int64_t>(ext);
  return std::nullopt;
}

// Network layer up to the UDP header, or the reason to pass.
std::optional<lrp_global_counter> network_layer(std::span<const uint8_t> f, Ip* ip) {
  if (auto why = link_layer(f, &ip->link)) return why;
  const size_t l3 = ip->link.l3;
  return ip->link.ethertype == 0x0800 ? ipv4_layer(f, l3, ip) : ipv6_layer(f, l3, ip);
}

// Is a UDP datagram addressed to this host? The rules, in order: the VLAN ID
// in the frame (0 when untagged) is the served one; a unicast destination
// MAC is the interface's; a multicast destination address is a joined group
// and not behind the broadcast MAC; any other destination address is, with
// the interface's MAC, local or a broadcast address, with the broadcast MAC
// a broadcast address, and never behind a multicast MAC. IPv4-mapped IPv6
// destinations are never local (the IPv4 entry is not theirs).
std::optional<lrp_global_counter> host_check(std::span<const uint8_t> f, const Ip& ip,
                                             const ReferenceMaps& maps) {
  if (ip.link.vlan != maps.vlan) return LRP_G_PASS_OTHER_VLAN;
  const bool group_mac = (f[0] & 1) != 0;
  const bool broadcast_mac =
      std::all_of(f.begin(), f.begin() + 6, [](uint8_t b) { return b == 0xff; });
  if (!group_mac && !std::equal(maps.mac.begin(), maps.mac.end(), f.begin()))
    return LRP_G_PASS_OTHER_MAC;
  Address16 dst;
  std::memcpy(dst.data(), ip.tuple.local, 16);
  const bool multicast_ip = ip.tuple.family == 4 ? (dst[12] & 0xf0) == 0xe0 : dst[0] == 0xff;
  if (multicast_ip) {
    if (maps.joined.count(dst) == 0) return LRP_G_PASS_NOT_JOINED;
    if (broadcast_mac) return LRP_G_PASS_NOT_LOCAL;
    return std::nullopt;
  }
  if (group_mac && !broadcast_mac) return LRP_G_PASS_NOT_LOCAL;
  const Address16 mapped_prefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (ip.tuple.family == 6 && std::equal(dst.begin(), dst.begin() + 12, mapped_prefix.begin()))
    return LRP_G_PASS_NOT_LOCAL;
  auto it = maps.addresses.find(dst);
  const uint32_t flags = it == maps.addresses.end() ? 0 : it->second;
  const uint32_t wanted =
      broadcast_mac ? LRP_ADDR_BROADCAST : (LRP_ADDR_LOCAL | LRP_ADDR_BROADCAST);
  if ((flags & wanted) == 0) return LRP_G_PASS_NOT_LOCAL;
  return std::nullopt;
}

// A flow's slot: its own, or the reuseport member the remote endpoint
// hashes to. kNoSlot when it leads nowhere (a bad kind or group).
constexpr uint32_t kNoSlot = 0xffffffffu;

uint32_t target_slot(const lrp_flow_value& value, const Tuple& t, const ReferenceMaps& maps) {
  if (value.kind == LRP_TARGET_SLOT) return value.target;
  if (value.kind != LRP_TARGET_GROUP || value.target >= LRP_MAX_REUSEPORT_GROUPS) return kNoSlot;
  auto it = maps.groups.find(value.target);
  if (it == maps.groups.end()) return kNoSlot;
  const lrp_reuseport_group& g = it->second;
  if (g.count == 0 || g.count > LRP_REUSEPORT_MAX) return kNoSlot;
  uint32_t words[4];
  std::memcpy(words, t.remote, sizeof(words));
  return g.member[lrp_reuseport_hash(words, t.remote_port) % g.count];
}

lrp_flow_key key_of(const Tuple& t, lrp_flow_kind kind) {
  lrp_flow_key key;
  std::memset(&key, 0, sizeof(key));
  key.kind = static_cast<uint8_t>(kind);
  key.family = static_cast<uint8_t>(t.family);
  key.local_port = t.local_port;
  if (kind != LRP_FLOW_WILDCARD) std::memcpy(key.local_addr, t.local, 16);
  if (kind == LRP_FLOW_CONNECTED) {
    std::memcpy(key.remote_addr, t.remote, 16);
    key.remote_port = t.remote_port;
  }
  return key;
}

std::string key_bytes(const lrp_flow_key& key) {
  return std::string(reinterpret_cast<const char*>(&key), sizeof(key));
}

Decision pass(lrp_global_counter reason) {
  return Decision{XDP_PASS, reason, std::nullopt, LRP_SLOT_REDIRECTED};
}

// Slot counters exist only for slots inside the per-slot maps.
std::optional<uint32_t> counted(uint32_t slot) {
  return slot < LRP_MAX_SLOTS ? std::optional(slot) : std::nullopt;
}

}  // namespace

void ReferenceMaps::add_flow(const lrp_flow_key& key, uint32_t slot) {
  flows[key_bytes(key)] = lrp_flow_value{.target = slot, .kind = LRP_TARGET_SLOT};
}

void ReferenceMaps::add_group_flow(const lrp_flow_key& key, uint32_t group) {
  flows[key_bytes(key)] = lrp_flow_value{.target = group, .kind = LRP_TARGET_GROUP};
}

std::optional<lrp_flow_value> ReferenceMaps::find(const lrp_flow_key& key) const {
  auto it = flows.find(key_bytes(key));
  if (it == flows.end()) return std::nullopt;
  return it->second;
}

std::optional<Tuple> udp_tuple(std::span<const uint8_t> frame) {
  Ip ip;
  if (network_layer(frame, &ip)) return std::nullopt;
  if (frame.size() < ip.l4 + kUdp) return std::nullopt;
  std::memcpy(&ip.tuple.local_port, &frame[ip.l4 + 2], 2);
  std::memcpy(&ip.tuple.remote_port, &frame[ip.l4], 2);
  return ip.tuple;
}

Decision classify(std::span<const uint8_t> frame, const ReferenceMaps& maps, uint32_t queue) {
  Ip ip;
  if (auto why = network_layer(frame, &ip)) return pass(*why);
  // Datagrams for other hosts are the kernel's, whatever their port.
  if (auto why = host_check(frame, ip, maps)) return pass(*why);
  if (frame.size() < ip.l4 + kUdp) return pass(LRP_G_PASS_MALFORMED);
  const Tuple t = *udp_tuple(frame);

  // The owner is found before the lengths are judged, so that a malformed
  // datagram aimed at a bound socket is charged to that socket.
  std::optional<uint32_t> slot;
  for (lrp_flow_kind kind : {LRP_FLOW_CONNECTED, LRP_FLOW_LOCAL, LRP_FLOW_WILDCARD}) {
    if (auto value = maps.find(key_of(t, kind))) {
      slot = target_slot(*value, t, maps);
      break;
    }
  }
  const size_t udp_len = be16(frame, ip.l4 + 4);
  const bool udp_ok = udp_len >= kUdp && static_cast<int64_t>(udp_len) <= ip.l4_len;
  if (!ip.lengths_ok || !udp_ok) {
    Decision d = pass(LRP_G_PASS_MALFORMED);
    if (slot) d.slot = counted(*slot);
    d.slot_counter = LRP_SLOT_MALFORMED;
    return d;
  }
  if (!slot) return pass(LRP_G_PASS_NO_FLOW);

  // A slot outside the maps has no shed flag, no counters and no socket.
  if (*slot >= LRP_MAX_SLOTS) return pass(LRP_G_PASS_SLOT_EMPTY);
  // Shedding is per slot, whatever the queue.
  auto shed = maps.shed.find(*slot);
  if (shed != maps.shed.end() && shed->second)
    return Decision{XDP_DROP, LRP_G_SHED, *slot, LRP_SLOT_SHED};
  // A frame is only ever handed to a socket bound on its own queue.
  if (queue >= LRP_MAX_QUEUES) return pass(LRP_G_PASS_QUEUE);
  if (maps.sockets.count({queue, *slot}) != 0)
    return Decision{XDP_REDIRECT, LRP_G_REDIRECTED, *slot, LRP_SLOT_REDIRECTED};
  return Decision{XDP_PASS, LRP_G_PASS_SLOT_EMPTY, *slot, LRP_SLOT_EMPTY};
}

const char* slot_counter_name(int counter) {
  static constexpr const char* kNames[LRP_SLOT_COUNTER_MAX] = {"REDIRECTED", "SHED", "MALFORMED",
                                                               "EMPTY"};
  return counter >= 0 && counter < LRP_SLOT_COUNTER_MAX ? kNames[counter] : "unknown counter";
}

std::string describe(const Decision& d) {
  std::string s = std::string(verdict_name(d.verdict)) + " " + global_counter_name(d.reason);
  if (d.slot) s += " slot " + std::to_string(*d.slot) + " " + slot_counter_name(d.slot_counter);
  return s;
}

}  // namespace lrp::fuzz
