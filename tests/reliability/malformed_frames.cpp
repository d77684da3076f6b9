#include "tests/reliability/malformed_frames.h"

#include <utility>

namespace lrp::test {

namespace {

constexpr size_t kEth = 14;
constexpr size_t kIp4 = 20;
constexpr size_t kIp6 = 40;
constexpr size_t kUdp = 8;

uint16_t get16(const Bytes& f, size_t at) {
  return static_cast<uint16_t>(f[at] << 8 | f[at + 1]);
}

Bytes text(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

// Ones' complement sum of big-endian words.
uint32_t add_words(uint32_t sum, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i += 2)
    sum += static_cast<uint32_t>(p[i] << 8 | (i + 1 < n ? p[i + 1] : 0));
  return sum;
}

}  // namespace

std::string marker(const std::string& name) {
  return "lrp-kind:" + name;
}

void set_udp_checksum(Bytes& f) {
  if (f.size() < kEth) return;
  size_t l3 = kEth;
  uint16_t type = get16(f, 12);
  if (type == kEthVlan || type == kEthQinQ) {
    type = get16(f, 16);
    l3 += 4;
  }
  size_t l4 = 0, src = 0, addr_len = 0;
  if (type == kEthIpv4 && f.size() >= l3 + kIp4 && f[l3 + 9] == kProtoUdp) {
    l4 = l3 + static_cast<size_t>(f[l3] & 0x0f) * 4;
    src = l3 + 12;
    addr_len = 4;
  } else if (type == kEthIpv6 && f.size() >= l3 + kIp6) {
    uint8_t next = f[l3 + 6];
    l4 = l3 + kIp6;
    while ((next == kProtoHop || next == kProtoRouting || next == kProtoDest) &&
           l4 + 8 <= f.size()) {
      next = f[l4];
      l4 += (static_cast<size_t>(f[l4 + 1]) + 1) * 8;
    }
    if (next != kProtoUdp) return;
    src = l3 + 8;
    addr_len = 16;
  } else {
    return;
  }
  if (l4 + kUdp > f.size()) return;
  const size_t udp_len = std::min<size_t>(get16(f, l4 + 4), f.size() - l4);
  f[l4 + 6] = f[l4 + 7] = 0;
  uint32_t sum = add_words(0, &f[src], 2 * addr_len);
  sum += kProtoUdp;
  sum += get16(f, l4 + 4);
  sum = add_words(sum, &f[l4], udp_len);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t checksum = static_cast<uint16_t>(~sum);
  if (checksum == 0) checksum = 0xffff;
  f[l4 + 6] = static_cast<uint8_t>(checksum >> 8);
  f[l4 + 7] = static_cast<uint8_t>(checksum);
}

std::vector<MalformedKind> malformed_catalogue(const CatalogueTarget& t) {
  const auto M = LRP_G_PASS_MALFORMED;
  std::vector<MalformedKind> all;
  const auto& mac = t.server_mac;

  // Helpers: a datagram to the bound port with this kind's marker as payload.
  auto v4 = [&](const std::string& name, const Bytes& options = {}) {
    return std::move(FrameBuilder()
                         .eth(0, mac)
                         .ipv4(kClient4, kServer4, kProtoUdp, options)
                         .udp(t.client_port, t.port)
                         .bytes(text(marker(name))));
  };
  auto v6 = [&](const std::string& name) {
    return std::move(FrameBuilder()
                         .eth(0, mac)
                         .ipv6(kClient6, kServer6)
                         .udp(t.client_port, t.port)
                         .bytes(text(marker(name))));
  };
  auto xdp = [&](const std::string& name, Bytes frame, lrp_global_counter reason,
                 bool noisy = false) {
    all.push_back({name, std::move(frame), Outcome::XdpPass, reason, DropReason::Count, noisy});
  };
  auto user = [&](const std::string& name, Bytes frame, DropReason reason) {
    all.push_back({name, std::move(frame), Outcome::UserDrop, M, reason, false});
  };
  auto delivered = [&](const std::string& name, Bytes frame) {
    set_udp_checksum(frame);
    all.push_back({name, std::move(frame), Outcome::Delivered, M, DropReason::Count, false});
  };
  auto checksummed = [](Bytes f) {
    set_udp_checksum(f);
    return f;
  };

  // Runts and truncation at every header.
  xdp("runt_ethernet_only", FrameBuilder().eth(kEthIpv4, mac).build(), M);
  xdp("runt_not_ip", FrameBuilder().eth(0x1234, mac).payload(6).build(), LRP_G_PASS_NOT_IP, true);
  xdp("trunc_vlan_tag", FrameBuilder().eth(kEthVlan, mac).bytes({0x00, 0x64}).build(), M);
  xdp("trunc_ipv4_header", v4("trunc_ipv4_header").truncate(kEth + 12).build(), M);
  xdp("trunc_ipv4_options", v4("trunc_ipv4_options", Bytes(8, 1)).truncate(kEth + 24).build(), M);
  xdp("trunc_udp_header_v4", v4("trunc_udp_header_v4").truncate(kEth + kIp4 + 5).build(), M);
  xdp("trunc_ipv6_header", v6("trunc_ipv6_header").truncate(kEth + 30).build(), M);
  xdp("trunc_udp_header_v6", v6("trunc_udp_header_v6").truncate(kEth + kIp6 + 4).build(), M);
  xdp("trunc_ipv6_ext_header",
      FrameBuilder()
          .eth(0, mac)
          .ipv6(kClient6, kServer6, kProtoHop)
          .bytes({kProtoUdp, 0, 1})
          .build(),
      M);

  // IPv4 header fields.
  xdp("ipv4_ihl_below_5", v4("ipv4_ihl_below_5").ipv4_ihl(4).build(), M);
  xdp("ipv4_ihl_beyond_frame",
      FrameBuilder()
          .eth(0, mac)
          .ipv4(kClient4, kServer4)
          .udp(t.client_port, t.port)
          .ipv4_ihl(15)
          .build(),
      M);
  xdp("ipv4_version_6", v4("ipv4_version_6").ipv4_version(6).build(), M);
  xdp("ipv4_total_length_beyond_frame",
      v4("ipv4_total_length_beyond_frame").ipv4_total_length(1400).build(), M);
  xdp("ipv4_total_length_below_header",
      v4("ipv4_total_length_below_header").ipv4_total_length(12).build(), M);
  xdp("ipv4_total_length_cuts_udp",
      v4("ipv4_total_length_cuts_udp").ipv4_total_length(kIp4 + kUdp + 2).build(), M);
  delivered("ipv4_options_record_route",
            v4("ipv4_options_record_route", {7, 7, 4, 0, 0, 0, 0, 0}).build());
  delivered("ipv4_options_40_bytes", [&] {
    Bytes nops(40, 1);
    nops.back() = 0;
    return v4("ipv4_options_40_bytes", nops).build();
  }());
  delivered("ipv4_trailing_bytes_after_udp", v4("ipv4_trailing_bytes_after_udp").pad(30).build());
  user(
      "ipv4_bad_header_checksum",
      [&] {
        Bytes f = v4("ipv4_bad_header_checksum").build();
        f[kEth + 10] ^= 0x5a;
        return f;
      }(),
      DropReason::BadIpChecksum);

  // Fragments.
  xdp("ipv4_first_fragment", v4("ipv4_first_fragment").ipv4_fragment(0, true).build(),
      LRP_G_PASS_FRAGMENT);
  xdp("ipv4_middle_fragment",
      FrameBuilder()
          .eth(0, mac)
          .ipv4(kClient4, kServer4)
          .payload(64)
          .ipv4_fragment(100, true)
          .build(),
      LRP_G_PASS_FRAGMENT);
  xdp("ipv4_last_fragment",
      FrameBuilder()
          .eth(0, mac)
          .ipv4(kClient4, kServer4)
          .payload(11)
          .ipv4_fragment(100, false)
          .build(),
      LRP_G_PASS_FRAGMENT);
  xdp("ipv6_fragment_header",
      FrameBuilder()
          .eth(0, mac)
          .ipv6(kClient6, kServer6, kProtoFragment)
          .ipv6_fragment(kProtoUdp, 0, true)
          .udp(t.client_port, t.port)
          .payload(32)
          .build(),
      LRP_G_PASS_FRAGMENT);

  // UDP length and checksums.
  xdp("udp_length_below_8", v4("udp_length_below_8").udp_length(5).build(), M);
  xdp("udp_length_beyond_ip", v4("udp_length_beyond_ip").udp_length(400).build(), M);
  xdp("udp_length_beyond_ipv6", v6("udp_length_beyond_ipv6").udp_length(400).build(), M);
  user(
      "ipv4_bad_udp_checksum",
      [&] {
        Bytes f = checksummed(v4("ipv4_bad_udp_checksum").build());
        f[kEth + kIp4 + 6] ^= 0x11;
        return f;
      }(),
      DropReason::BadUdpChecksum);
  user(
      "ipv6_bad_udp_checksum",
      [&] {
        Bytes f = checksummed(v6("ipv6_bad_udp_checksum").build());
        f[kEth + kIp6 + 6] ^= 0x11;
        return f;
      }(),
      DropReason::BadUdpChecksum);
  user("ipv6_zero_udp_checksum", v6("ipv6_zero_udp_checksum").build(),
       DropReason::ZeroUdpChecksumV6);
  // FrameBuilder leaves the UDP checksum zero: "none" is valid on IPv4.
  all.push_back({"ipv4_zero_udp_checksum", v4("ipv4_zero_udp_checksum").build(), Outcome::Delivered,
                 M, DropReason::Count, false});

  // IPv6 extension header chains.
  auto ext_chain = [&](const std::string& name, std::vector<uint8_t> chain, uint8_t hdrlen = 0) {
    FrameBuilder b;
    b.eth(0, mac).ipv6(kClient6, kServer6, chain.empty() ? kProtoUdp : chain[0]);
    for (size_t i = 0; i < chain.size(); ++i)
      b.ipv6_ext(i + 1 < chain.size() ? chain[i + 1] : kProtoUdp, hdrlen);
    b.udp(t.client_port, t.port).bytes(text(marker(name)));
    return b;
  };
  delivered("ipv6_hop_and_dest_options",
            ext_chain("ipv6_hop_and_dest_options", {kProtoHop, kProtoDest}).build());
  delivered("ipv6_four_ext_headers",
            ext_chain("ipv6_four_ext_headers", {kProtoHop, kProtoDest, kProtoRouting, kProtoDest})
                .build());
  xdp("ipv6_five_ext_headers",
      checksummed(ext_chain("ipv6_five_ext_headers",
                            {kProtoHop, kProtoDest, kProtoRouting, kProtoDest, kProtoDest})
                      .build()),
      LRP_G_PASS_IPV6_EXT);
  xdp("ipv6_long_ext_chain",
      checksummed(
          ext_chain("ipv6_long_ext_chain", std::vector<uint8_t>(12, kProtoDest), 3).build()),
      LRP_G_PASS_IPV6_EXT);
  user("ipv6_hop_by_hop_not_first",
       checksummed(ext_chain("ipv6_hop_by_hop_not_first", {kProtoDest, kProtoHop}).build()),
       DropReason::BadIpHeader);
  xdp("ipv6_ext_beyond_payload",
      ext_chain("ipv6_ext_beyond_payload", {kProtoDest}).ipv6_payload_length(4).build(), M);
  xdp("ipv6_payload_length_beyond_frame",
      v6("ipv6_payload_length_beyond_frame").ipv6_payload_length(1200).build(), M);

  // VLAN tags.
  delivered("vlan_priority_tag_ipv4", FrameBuilder()
                                          .eth(0, mac)
                                          .vlan(0x6000)  // VLAN ID 0: the untagged VLAN
                                          .ipv4(kClient4, kServer4)
                                          .udp(t.client_port, t.port)
                                          .bytes(text(marker("vlan_priority_tag_ipv4")))
                                          .build());
  xdp("vlan_bad_inner_type",
      FrameBuilder().eth(0, mac).vlan(100, kEthVlan, 0x1234).payload(40).build(), LRP_G_PASS_NOT_IP,
      true);
  xdp("double_vlan",
      FrameBuilder()
          .eth(0, mac)
          .vlan(100, kEthQinQ)
          .vlan(200)
          .ipv4(kClient4, kServer4)
          .udp(t.client_port, t.port)
          .payload(18)
          .build(),
      M);

  // Link-layer destinations other than the server's own address.
  delivered("broadcast_to_bound_port", FrameBuilder()
                                           .eth(0, FrameBuilder::kBroadcastMac)
                                           .ipv4(kClient4, "198.18.0.255")
                                           .udp(t.client_port, t.port)
                                           .bytes(text(marker("broadcast_to_bound_port")))
                                           .build());
  xdp("multicast_mac_unicast_ip",
      checksummed(FrameBuilder()
                      .eth(0, {0x01, 0x00, 0x5e, 0x12, 0x00, 0x01})
                      .ipv4(kClient4, kServer4)
                      .udp(t.client_port, t.port)
                      .bytes(text(marker("multicast_mac_unicast_ip")))
                      .build()),
      LRP_G_PASS_NOT_LOCAL);
  xdp("ipv6_multicast_mac_unicast_ip",
      checksummed(FrameBuilder()
                      .eth(0, {0x33, 0x33, 0x00, 0x00, 0x00, 0x01})
                      .ipv6(kClient6, kServer6)
                      .udp(t.client_port, t.port)
                      .bytes(text(marker("ipv6_multicast_mac_unicast_ip")))
                      .build()),
      LRP_G_PASS_NOT_LOCAL);

  // Valid datagrams for other hosts, on the bound port: the kernel's.
  auto for_others = [&](const std::string& name, const std::array<uint8_t, 6>& dst_mac,
                        const std::string& dst_ip, uint16_t vlan = 0) {
    FrameBuilder b;
    b.eth(0, dst_mac);
    if (vlan != 0) b.vlan(vlan);
    if (dst_ip.find(':') != std::string::npos)
      b.ipv6(kClient6, dst_ip);
    else
      b.ipv4(kClient4, dst_ip);
    return checksummed(b.udp(t.client_port, t.port).bytes(text(marker(name))).build());
  };
  const std::array<uint8_t, 6> other_mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
  xdp("other_host_ipv4", for_others("other_host_ipv4", mac, kOther4), LRP_G_PASS_NOT_LOCAL);
  xdp("other_host_ipv6", for_others("other_host_ipv6", mac, kOther6), LRP_G_PASS_NOT_LOCAL);
  xdp("other_mac_ipv4", for_others("other_mac_ipv4", other_mac, kServer4), LRP_G_PASS_OTHER_MAC);
  xdp("other_mac_ipv6", for_others("other_mac_ipv6", other_mac, kServer6), LRP_G_PASS_OTHER_MAC);
  xdp("vlan_not_served_ipv4", for_others("vlan_not_served_ipv4", mac, kServer4, 100),
      LRP_G_PASS_OTHER_VLAN);
  xdp("vlan_not_served_ipv6", for_others("vlan_not_served_ipv6", mac, kServer6, 100),
      LRP_G_PASS_OTHER_VLAN);
  xdp("multicast_not_joined_ipv4",
      for_others("multicast_not_joined_ipv4", {0x01, 0x00, 0x5e, 0x01, 0x01, 0x01}, "239.1.1.1"),
      LRP_G_PASS_NOT_JOINED);
  xdp("multicast_not_joined_ipv6",
      for_others("multicast_not_joined_ipv6", {0x33, 0x33, 0x00, 0x01, 0x00, 0x03}, "ff05::1:3"),
      LRP_G_PASS_NOT_JOINED);

  // Not for lrp at all.
  xdp("ipv4_tcp",
      FrameBuilder().eth(0, mac).ipv4(kClient4, kServer4, kProtoTcp).payload(20).build(),
      LRP_G_PASS_NOT_UDP, true);
  xdp("udp_to_unbound_port",
      FrameBuilder()
          .eth(0, mac)
          .ipv4(kClient4, kServer4)
          .udp(t.client_port, t.unbound_port)
          .payload(8)
          .build(),
      LRP_G_PASS_NO_FLOW);

  // Sizes: larger than a UMEM frame but within the MTU (a datagram like any
  // other: the engine receives it as a multi-buffer chain), and larger than
  // the interface's MTU (the device drops it).
  {
    const size_t payload = t.umem_frame_size + 200;
    Bytes f = v4("larger_than_umem_frame")
                  .payload(payload - marker("larger_than_umem_frame").size())
                  .build();
    set_udp_checksum(f);
    all.push_back({"larger_than_umem_frame", f, Outcome::Delivered, M, DropReason::Count, false});
  }
  {
    Bytes f = v4("larger_than_mtu").payload(t.server_mtu + 100).build();
    set_udp_checksum(f);
    all.push_back({"larger_than_mtu", f, Outcome::LinkTooLarge, M, DropReason::Count, false});
  }
  return all;
}

}  // namespace lrp::test
