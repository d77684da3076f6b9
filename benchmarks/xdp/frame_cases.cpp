#include "benchmarks/xdp/frame_cases.h"

#include <linux/bpf.h>

#include "tests/bpf/frame_builder.h"

namespace lrp::bench {

namespace {

using test::FrameBuilder;

constexpr size_t kPayload = 18;  // a 60-byte IPv4 frame, the Ethernet minimum
constexpr std::array<uint8_t, 6> kGroup4Mac = {0x01, 0x00, 0x5e, 0x01, 0x01, 0x01};
constexpr std::array<uint8_t, 6> kGroup6Mac = {0x33, 0x33, 0x00, 0x01, 0x00, 0x03};

struct Family {
  const char* prefix;  // "v4" or "v6"
  const char* server;
  const char* client;
  const char* other;
  const char* group;
  const char* other_group;
  std::array<uint8_t, 6> group_mac;
  bool v6;
};

std::vector<uint8_t> udp(const Family& f, const std::array<uint8_t, 6>& mac, const char* src,
                         uint16_t sport, const char* dst, uint16_t dport) {
  FrameBuilder b;
  b.eth(0, mac);
  if (f.v6)
    b.ipv6(src, dst);
  else
    b.ipv4(src, dst);
  return b.udp(sport, dport).payload(kPayload).build();
}

std::vector<uint8_t> icmp(const Family& f) {
  FrameBuilder b;
  b.eth(0, kOurMac);
  if (f.v6)
    b.ipv6(f.client, f.server, test::kProtoIcmp6);
  else
    b.ipv4(f.client, f.server, test::kProtoIcmp);
  return b.payload(kPayload + 8).build();
}

// The cases of one family, in the order the program reaches their stops.
void add_family(const Family& f, std::vector<FrameCase>* out) {
  const std::string p = f.prefix;
  const auto to_server = [&](const std::array<uint8_t, 6>& mac, uint16_t sport, uint16_t dport) {
    return udp(f, mac, f.client, sport, f.server, dport);
  };
  const auto unicast = [&](uint16_t sport, uint16_t dport) {
    return to_server(kOurMac, sport, dport);
  };
  out->push_back({p + "_not_udp", "ICMP to a local address: IP parsed, no address check", icmp(f),
                  false, 0, XDP_PASS, LRP_G_PASS_NOT_UDP});
  out->push_back({p + "_other_vlan", "UDP, interface serves VLAN 7: stops at the VLAN check",
                  unicast(kClientPort, kPort), false, kOtherVlan, XDP_PASS, LRP_G_PASS_OTHER_VLAN});
  out->push_back({p + "_other_mac", "UDP to another unicast MAC: stops at the MAC check",
                  to_server(kOtherMac, kClientPort, kPort), false, 0, XDP_PASS,
                  LRP_G_PASS_OTHER_MAC});
  out->push_back({p + "_not_local", "UDP to an address not local: address lookup misses",
                  udp(f, kOurMac, f.client, kClientPort, f.other, kPort), false, 0, XDP_PASS,
                  LRP_G_PASS_NOT_LOCAL});
  out->push_back({p + "_no_flow", "UDP to a local address, unbound port: 3 flow lookups miss",
                  unicast(kClientPort, kPortUnbound), false, 0, XDP_PASS, LRP_G_PASS_NO_FLOW});
  out->push_back({p + "_wildcard_flow", "wildcard flow (3rd lookup) to a slot with no socket",
                  unicast(kOtherClientPort, kPort), false, 0, XDP_PASS, LRP_G_PASS_SLOT_EMPTY});
  out->push_back({p + "_connected_flow", "connected flow (1st lookup) to a slot with no socket",
                  unicast(kClientPort, kPort), false, 0, XDP_PASS, LRP_G_PASS_SLOT_EMPTY});
  out->push_back({p + "_redirect", "connected flow to a slot with a socket: XDP_REDIRECT",
                  unicast(kClientPort, kPortSocket), false, 0, XDP_REDIRECT, LRP_G_REDIRECTED});
  out->push_back({p + "_group_other_vlan", "UDP to a joined group, interface serves VLAN 7",
                  udp(f, f.group_mac, f.client, kClientPort, f.group, kPort), false, kOtherVlan,
                  XDP_PASS, LRP_G_PASS_OTHER_VLAN});
  out->push_back({p + "_group_not_joined", "UDP to a group not joined: group lookup misses",
                  udp(f, f.group_mac, f.client, kClientPort, f.other_group, kPort), false, 0,
                  XDP_PASS, LRP_G_PASS_NOT_JOINED});
  out->push_back({p + "_group_no_flow", "UDP to a joined group, unbound port",
                  udp(f, f.group_mac, f.client, kClientPort, f.group, kPortUnbound), false, 0,
                  XDP_PASS, LRP_G_PASS_NO_FLOW});
}

}  // namespace

std::vector<FrameCase> frame_cases() {
  const Family v4{"v4", kServer4, kClient4, kOther4, kGroup4, kOtherGroup4, kGroup4Mac, false};
  const Family v6{"v6", kServer6, kClient6, kOther6, kGroup6, kOtherGroup6, kGroup6Mac, true};
  std::vector<FrameCase> cases;
  cases.push_back({"floor", "a program that only returns XDP_PASS (the test run's own cost)",
                   udp(v4, kOurMac, kClient4, kClientPort, kServer4, kPort), true, 0, XDP_PASS,
                   LRP_G_SEEN});
  cases.push_back({"not_ip", "ARP to our MAC: Ethernet parsed, MAC classified, passed",
                   FrameBuilder().eth(test::kEthArp, kOurMac).payload(28).build(), false, 0,
                   XDP_PASS, LRP_G_PASS_NOT_IP});
  add_family(v4, &cases);
  add_family(v6, &cases);
  return cases;
}

std::vector<Step> steps() {
  std::vector<Step> out = {
      {"program entry, Ethernet, MAC class, counters", "floor", "not_ip"},
  };
  for (const std::string p : {"v4", "v6"}) {
    const auto s = [&](const char* what, const char* from, const char* to) {
      out.push_back({p + " " + what, p + from, p + to});
    };
    s("VLAN check (config lookup; includes building the flow key)", "_not_udp", "_other_vlan");
    s("MAC check (class found at parse)", "_other_vlan", "_other_mac");
    s("local-address lookup (miss)", "_other_mac", "_not_local");
    s("all host-only checks to a miss, with key build", "_not_udp", "_not_local");
    s("UDP header + 3 flow lookups (miss); address hit, not miss", "_not_local", "_no_flow");
    s("wildcard flow hit, slot control, empty XSKMAP entry", "_no_flow", "_wildcard_flow");
    s("connected flow instead of wildcard (2 lookups fewer)", "_wildcard_flow", "_connected_flow");
    s("XSKMAP entry present (redirect verdict, no copy)", "_connected_flow", "_redirect");
    s("joined-group lookup (miss)", "_group_other_vlan", "_group_not_joined");
    s("group hit + UDP + 3 flow lookups (miss)", "_group_not_joined", "_group_no_flow");
    out.push_back(
        {p + " whole program to a connected flow's empty slot", "floor", p + "_connected_flow"});
  }
  return out;
}

}  // namespace lrp::bench
