// Table-driven tests of the XDP program through BPF_PROG_TEST_RUN: each case
// is a crafted frame, the verdict it must get and the counters it must move.
// Every counter not named in a case must stay where it was.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "bpf/lrp_shared.h"
#include "tests/bpf/frame_builder.h"
#include "tests/bpf/private_netns.h"
#include "tests/bpf/skeleton.h"
#include "tests/bpf/test_xsk.h"
#include "tests/bpf/xdp_names.h"
#include "tests/support/privileges.h"

namespace lrp::test {
namespace {

// Ports and slots of the flows every test starts with.
constexpr uint16_t kPort = 7000;          // wildcard, local and connected on both families
constexpr uint16_t kPortV4Only = 7100;    // wildcard IPv4 only
constexpr uint16_t kPortShed = 7200;      // wildcard on both families, shed flag up
constexpr uint16_t kPortRedirect = 7300;  // wildcard on both families, slot used by redirect tests
constexpr uint16_t kPortUnbound = 7001;
constexpr uint16_t kClientPort = 5000;  // the connected flows' remote port
constexpr uint16_t kOtherPort = 5001;

constexpr uint32_t kSlotWild4 = 1;
constexpr uint32_t kSlotLocal4 = 2;
constexpr uint32_t kSlotConn4 = 3;
constexpr uint32_t kSlotWild6 = 4;
constexpr uint32_t kSlotLocal6 = 5;
constexpr uint32_t kSlotConn6 = 6;
constexpr uint32_t kSlotV4Only = 7;
constexpr uint32_t kSlotShed = 8;
constexpr uint32_t kSlotRedirect = 9;

// The test device's receive queues: a few past the XSKMAP's rows, so that
// frames can arrive on a queue the program does not serve.
constexpr uint32_t kQueues = LRP_MAX_QUEUES + 2;

// Addresses served by the wildcard flows only.
constexpr const char* kElse4 = "198.18.0.7";
constexpr const char* kElse6 = "2001:2::7";
constexpr const char* kServerLinkLocal6 = "fe80::1";
// The interface's subnet broadcast address, and the groups it joined.
constexpr const char* kBroadcast4 = "198.18.0.255";
constexpr const char* kGroup4 = "239.1.1.1";
constexpr const char* kGroup6 = "ff05::1:3";
constexpr std::array<uint8_t, 6> kGroup4Mac = {0x01, 0x00, 0x5e, 0x01, 0x01, 0x01};
constexpr std::array<uint8_t, 6> kGroup6Mac = {0x33, 0x33, 0x00, 0x01, 0x00, 0x03};
// A neighbour's MAC: the interface's own is FrameBuilder::kUnicastMac.
constexpr std::array<uint8_t, 6> kOtherMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};

struct SlotCount {
  uint32_t slot;
  lrp_slot_counter counter;
};

struct Case {
  const char* name;  // test name: letters, digits and underscores
  const char* description;
  Bytes frame;
  int verdict;
  std::vector<lrp_global_counter> global;  // each +1; LRP_G_SEEN is always expected
  std::vector<SlotCount> slots;            // each +1
  uint32_t queue = 0;                      // rx_queue_index the frame arrives on
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name << " (" << c.description << ")";
}

struct Counters {
  std::array<uint64_t, LRP_G_COUNTER_MAX> global{};
  std::array<std::array<uint64_t, LRP_SLOT_COUNTER_MAX>, LRP_MAX_SLOTS> slots{};
};

const char* slot_name(int c) {
  static constexpr const char* kNames[LRP_SLOT_COUNTER_MAX] = {"REDIRECTED", "SHED", "MALFORMED",
                                                               "EMPTY"};
  return kNames[c];
}

lrp_flow_key make_key(lrp_flow_kind kind, int family, const char* local, uint16_t local_port,
                      const char* remote = nullptr, uint16_t remote_port = 0) {
  lrp_flow_key key;
  std::memset(&key, 0, sizeof(key));
  if (local != nullptr) {
    const auto a = addr16(local);
    std::memcpy(key.local_addr, a.data(), 16);
  }
  if (remote != nullptr) {
    const auto a = addr16(remote);
    std::memcpy(key.remote_addr, a.data(), 16);
  }
  key.local_port = htons(local_port);
  key.remote_port = htons(remote_port);
  key.kind = static_cast<uint8_t>(kind);
  key.family = static_cast<uint8_t>(family);
  return key;
}

lrp_flow_key wildcard(int family, uint16_t port) {
  return make_key(LRP_FLOW_WILDCARD, family, nullptr, port);
}

lrp_flow_key local(const char* addr, uint16_t port) {
  return make_key(LRP_FLOW_LOCAL, std::strchr(addr, ':') != nullptr ? 6 : 4, addr, port);
}

lrp_flow_key connected(const char* addr, uint16_t port, const char* remote, uint16_t remote_port) {
  return make_key(LRP_FLOW_CONNECTED, std::strchr(addr, ':') != nullptr ? 6 : 4, addr, port, remote,
                  remote_port);
}

class XdpProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LRP_REQUIRE_PRIVILEGES();
    std::string error;
    netns_ = PrivateNetns::enter(&error);
    ASSERT_NE(netns_, nullptr) << error;
    ifindex_ = netns_->add_queue_device("lrpq", kQueues, &error);
    ASSERT_GT(ifindex_, 0) << error;
    skel_ = xdp_skel_open_and_load();
    ASSERT_NE(skel_, nullptr) << "load the XDP program: " << std::strerror(errno);
    ASSERT_GT(libbpf_num_possible_cpus(), 0);

    ASSERT_NO_FATAL_FAILURE(add_flow(wildcard(4, kPort), kSlotWild4));
    ASSERT_NO_FATAL_FAILURE(add_flow(local(kServer4, kPort), kSlotLocal4));
    ASSERT_NO_FATAL_FAILURE(
        add_flow(connected(kServer4, kPort, kClient4, kClientPort), kSlotConn4));
    ASSERT_NO_FATAL_FAILURE(add_flow(wildcard(6, kPort), kSlotWild6));
    ASSERT_NO_FATAL_FAILURE(add_flow(local(kServer6, kPort), kSlotLocal6));
    ASSERT_NO_FATAL_FAILURE(
        add_flow(connected(kServer6, kPort, kClient6, kClientPort), kSlotConn6));
    ASSERT_NO_FATAL_FAILURE(add_flow(wildcard(4, kPortV4Only), kSlotV4Only));
    ASSERT_NO_FATAL_FAILURE(add_flow(wildcard(4, kPortShed), kSlotShed));
    ASSERT_NO_FATAL_FAILURE(add_flow(wildcard(6, kPortShed), kSlotShed));
    ASSERT_NO_FATAL_FAILURE(add_flow(wildcard(4, kPortRedirect), kSlotRedirect));
    ASSERT_NO_FATAL_FAILURE(add_flow(wildcard(6, kPortRedirect), kSlotRedirect));
    ASSERT_NO_FATAL_FAILURE(set_shed(kSlotShed, true));

    // The interface: its MAC, untagged, its addresses and joined groups.
    ASSERT_NO_FATAL_FAILURE(set_interface(FrameBuilder::kUnicastMac, 0));
    for (const char* a : {kServer4, kElse4, kServer6, kElse6, kServerLinkLocal6})
      ASSERT_NO_FATAL_FAILURE(set_address(a, LRP_ADDR_LOCAL));
    for (const char* a : {kBroadcast4, "255.255.255.255"})
      ASSERT_NO_FATAL_FAILURE(set_address(a, LRP_ADDR_BROADCAST));
    ASSERT_NO_FATAL_FAILURE(join(kGroup4));
    ASSERT_NO_FATAL_FAILURE(join(kGroup6));
  }

  void TearDown() override {
    if (skel_ != nullptr) xdp_skel_destroy(skel_);
    netns_.reset();
  }

  void add_flow(const lrp_flow_key& key, uint32_t slot) {
    const lrp_flow_value value{.target = slot, .kind = LRP_TARGET_SLOT};
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.flows, &key, sizeof(key), &value, sizeof(value),
                                   BPF_NOEXIST),
              0)
        << "add flow for slot " << slot;
  }

  void add_group_flow(const lrp_flow_key& key, uint32_t group) {
    const lrp_flow_value value{.target = group, .kind = LRP_TARGET_GROUP};
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.flows, &key, sizeof(key), &value, sizeof(value),
                                   BPF_NOEXIST),
              0)
        << "add flow for group " << group;
  }

  void set_group(uint32_t group, const std::vector<uint32_t>& members) {
    lrp_reuseport_group g{};
    g.count = static_cast<uint32_t>(members.size());
    for (size_t i = 0; i < members.size() && i < LRP_REUSEPORT_MAX; ++i) g.member[i] = members[i];
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.reuseport_groups, &group, sizeof(group), &g,
                                   sizeof(g), BPF_ANY),
              0);
  }

  void set_interface(const std::array<uint8_t, 6>& mac, uint16_t vlan) {
    lrp_iface_config config{};
    std::memcpy(config.mac, mac.data(), 6);
    config.vlan = vlan;
    const uint32_t zero = 0;
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.iface_config, &zero, sizeof(zero), &config,
                                   sizeof(config), BPF_ANY),
              0);
  }

  // flags 0 removes the address.
  void set_address(const char* text, uint32_t flags) {
    const auto a = addr16(text);
    if (flags == 0) {
      ASSERT_EQ(bpf_map__delete_elem(skel_->maps.local_addrs, a.data(), a.size(), 0), 0);
      return;
    }
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.local_addrs, a.data(), a.size(), &flags,
                                   sizeof(flags), BPF_ANY),
              0);
  }

  void join(const char* group) {
    const auto a = addr16(group);
    const uint32_t refs = 1;
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.mcast_groups, a.data(), a.size(), &refs,
                                   sizeof(refs), BPF_ANY),
              0);
  }

  void remove_flow(const lrp_flow_key& key) {
    ASSERT_EQ(bpf_map__delete_elem(skel_->maps.flows, &key, sizeof(key), 0), 0);
  }

  void set_shed(uint32_t slot, bool shed) {
    const lrp_slot_control control{.shed = shed ? 1u : 0u, .pad = 0};
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.slot_control, &slot, sizeof(slot), &control,
                                   sizeof(control), BPF_ANY),
              0);
  }

  // Per-CPU values summed over every possible CPU.
  void read_counters(Counters* out) {
    const size_t cpus = static_cast<size_t>(libbpf_num_possible_cpus());
    std::vector<uint64_t> raw(cpus * LRP_SLOT_COUNTER_MAX);
    for (uint32_t key = 0; key < LRP_G_COUNTER_MAX; ++key) {
      ASSERT_EQ(bpf_map__lookup_elem(skel_->maps.global_counters, &key, sizeof(key), raw.data(),
                                     cpus * sizeof(uint64_t), 0),
                0);
      out->global[key] = 0;
      for (size_t cpu = 0; cpu < cpus; ++cpu) out->global[key] += raw[cpu];
    }
    for (uint32_t slot = 0; slot < LRP_MAX_SLOTS; ++slot) {
      ASSERT_EQ(bpf_map__lookup_elem(skel_->maps.slot_counters, &slot, sizeof(slot), raw.data(),
                                     raw.size() * sizeof(uint64_t), 0),
                0);
      for (size_t c = 0; c < LRP_SLOT_COUNTER_MAX; ++c) {
        out->slots[slot][c] = 0;
        for (size_t cpu = 0; cpu < cpus; ++cpu)
          out->slots[slot][c] += raw[cpu * LRP_SLOT_COUNTER_MAX + c];
      }
    }
  }

  // The socket for (queue, slot) in the XSKMAP, or none when fd < 0.
  void set_socket(uint32_t queue, uint32_t slot, int fd) {
    const uint32_t key = queue * LRP_MAX_SLOTS + slot;
    if (fd < 0) {
      ASSERT_EQ(bpf_map__delete_elem(skel_->maps.xsks, &key, sizeof(key), 0), 0);
      return;
    }
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.xsks, &key, sizeof(key), &fd, sizeof(fd), BPF_ANY),
              0)
        << "put the socket into the XSKMAP: " << std::strerror(errno);
  }

  // Runs the program over frame repeat times as if it arrived on the test
  // device's receive queue `queue`; returns the verdict.
  int run(const Bytes& frame, uint32_t repeat = 1, uint32_t queue = 0) {
    // The kernel wants data_end to be the frame size, no metadata, and a
    // device (in this thread's namespace) that has the queue.
    xdp_md ctx{};
    ctx.data_end = static_cast<uint32_t>(frame.size());
    ctx.ingress_ifindex = static_cast<uint32_t>(ifindex_);
    ctx.rx_queue_index = queue;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = static_cast<int>(repeat));
    const int err = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.lrp_xdp), &opts);
    EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN: " << std::strerror(-err);
    return err == 0 ? static_cast<int>(opts.retval) : -1;
  }

  // Runs frame and checks the verdict and that exactly the expected counters moved.
  void expect(const Bytes& frame, int verdict, const std::vector<lrp_global_counter>& global,
              const std::vector<SlotCount>& slots, uint32_t repeat = 1, uint32_t queue = 0) {
    Counters before, after, want;
    ASSERT_NO_FATAL_FAILURE(read_counters(&before));
    const int got = run(frame, repeat, queue);
    ASSERT_NO_FATAL_FAILURE(read_counters(&after));

    EXPECT_EQ(got, verdict) << "got " << verdict_name(got) << ", want " << verdict_name(verdict);
    want.global[LRP_G_SEEN] += repeat;
    for (lrp_global_counter c : global) want.global[c] += repeat;
    for (const SlotCount& s : slots) want.slots[s.slot][s.counter] += repeat;
    for (int c = 0; c < LRP_G_COUNTER_MAX; ++c)
      EXPECT_EQ(after.global[c] - before.global[c], want.global[c])
          << "global counter " << global_counter_name(c);
    for (uint32_t slot = 0; slot < LRP_MAX_SLOTS; ++slot)
      for (int c = 0; c < LRP_SLOT_COUNTER_MAX; ++c)
        EXPECT_EQ(after.slots[slot][c] - before.slots[slot][c], want.slots[slot][c])
            << "slot " << slot << " counter " << slot_name(c);
  }

  std::unique_ptr<PrivateNetns> netns_;
  int ifindex_ = 0;
  XdpSkel* skel_ = nullptr;
};

// Frame shorthands. Sizes: Ethernet 14, VLAN 4, IPv4 20, IPv6 40, UDP 8.
FrameBuilder udp4(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                  size_t payload = 18) {
  return std::move(FrameBuilder().eth().ipv4(src, dst).udp(sport, dport).payload(payload));
}

FrameBuilder udp6(const char* src, uint16_t sport, const char* dst, uint16_t dport,
                  size_t payload = 18) {
  return std::move(FrameBuilder().eth().ipv6(src, dst).udp(sport, dport).payload(payload));
}

// A datagram for the connected IPv4 / IPv6 flow (slot kSlotConn4 / kSlotConn6).
FrameBuilder conn4(size_t payload = 18) {
  return udp4(kClient4, kClientPort, kServer4, kPort, payload);
}
FrameBuilder conn6(size_t payload = 18) {
  return udp6(kClient6, kClientPort, kServer6, kPort, payload);
}

constexpr size_t kEth = 14;
constexpr size_t kIp4 = 20;
constexpr size_t kIp6 = 40;
constexpr size_t kUdp = 8;

// Shorthands for expectations.
SlotCount empty(uint32_t slot) {
  return {slot, LRP_SLOT_EMPTY};
}
SlotCount malformed(uint32_t slot) {
  return {slot, LRP_SLOT_MALFORMED};
}
SlotCount shed(uint32_t slot) {
  return {slot, LRP_SLOT_SHED};
}

std::vector<Case> cases() {
  const auto E = LRP_G_PASS_SLOT_EMPTY;
  const auto M = LRP_G_PASS_MALFORMED;
  const auto F = LRP_G_PASS_FRAGMENT;
  const auto NU = LRP_G_PASS_NOT_UDP;
  const auto NI = LRP_G_PASS_NOT_IP;
  const auto NF = LRP_G_PASS_NO_FLOW;
  const auto NL = LRP_G_PASS_NOT_LOCAL;
  const auto OM = LRP_G_PASS_OTHER_MAC;
  const auto NJ = LRP_G_PASS_NOT_JOINED;
  // IPv4 options: record route (7 bytes) + end of list.
  const Bytes rr = {7, 7, 4, 0, 0, 0, 0, 0};
  Bytes max_options(40, 1);  // 40 NOPs: IHL 15
  max_options.back() = 0;

  return {
      // Valid datagrams to bound ports: every slot is empty, so each falls back to the stack.
      {"v4_wildcard",
       "IPv4 to another local address hits the wildcard flow",
       udp4(kOther4, kOtherPort, kElse4, kPort).build(),
       XDP_PASS,
       {E},
       {empty(kSlotWild4)}},
      {"v4_local",
       "IPv4 to the bound address from an unknown peer hits the local flow",
       udp4(kOther4, kClientPort, kServer4, kPort).build(),
       XDP_PASS,
       {E},
       {empty(kSlotLocal4)}},
      {"v4_connected",
       "IPv4 from the connected peer hits the connected flow",
       conn4().build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn4)}},
      {"v4_connected_wrong_port",
       "the connected peer's address from another port is only local",
       udp4(kClient4, kOtherPort, kServer4, kPort).build(),
       XDP_PASS,
       {E},
       {empty(kSlotLocal4)}},
      {"v6_wildcard",
       "IPv6 to another local address hits the wildcard flow",
       udp6(kOther6, kOtherPort, kElse6, kPort).build(),
       XDP_PASS,
       {E},
       {empty(kSlotWild6)}},
      {"v6_local",
       "IPv6 to the bound address from an unknown peer hits the local flow",
       udp6(kOther6, kClientPort, kServer6, kPort).build(),
       XDP_PASS,
       {E},
       {empty(kSlotLocal6)}},
      {"v6_connected",
       "IPv6 from the connected peer hits the connected flow",
       conn6().build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn6)}},
      {"vlan_v4_not_served",
       "802.1Q tag 100 on an interface that serves untagged frames",
       FrameBuilder()
           .eth()
           .vlan(100)
           .ipv4(kClient4, kServer4)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {LRP_G_PASS_OTHER_VLAN},
       {}},
      {"qinq_outer_tag_v4_not_served",
       "one 802.1ad tag, IPv4",
       FrameBuilder()
           .eth()
           .vlan(100, kEthQinQ)
           .ipv4(kClient4, kServer4)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {LRP_G_PASS_OTHER_VLAN},
       {}},
      {"vlan_v6_not_served",
       "802.1Q tag, IPv6",
       FrameBuilder()
           .eth()
           .vlan(100)
           .ipv6(kClient6, kServer6)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {LRP_G_PASS_OTHER_VLAN},
       {}},
      {"priority_tag_is_untagged",
       "an 802.1p priority tag (VLAN ID 0) is the untagged VLAN",
       FrameBuilder()
           .eth()
           .vlan(0x6000)
           .ipv4(kClient4, kServer4)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn4)}},
      {"v4_ethernet_padding",
       "bytes after the IP total length (minimum frame padding) are fine",
       conn4(0).pad(18).build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn4)}},
      {"v6_ethernet_padding",
       "bytes after the IPv6 payload are fine",
       conn6(0).pad(10).build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn6)}},
      {"v4_empty_payload",
       "UDP length 8 is a valid empty datagram",
       conn4(0).build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn4)}},
      {"v4_udp_shorter_than_ip",
       "UDP length below the IP payload: trailing bytes are ignored",
       conn4(20).udp_length(kUdp + 4).build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn4)}},
      {"v4_options",
       "IHL 7 (record route option) is skipped",
       FrameBuilder()
           .eth()
           .ipv4(kClient4, kServer4, kProtoUdp, rr)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn4)}},
      {"v4_max_options",
       "IHL 15 (40 bytes of options) is skipped",
       FrameBuilder()
           .eth()
           .ipv4(kClient4, kServer4, kProtoUdp, max_options)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn4)}},
      {"v4_dont_fragment",
       "DF alone is not a fragment",
       conn4().ipv4_fragment(0, false, true).build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn4)}},
      {"v6_hop_by_hop",
       "one hop-by-hop header is walked",
       FrameBuilder()
           .eth()
           .ipv6(kClient6, kServer6, kProtoHop)
           .ipv6_ext(kProtoUdp)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn6)}},
      {"v6_four_ext_headers",
       "hop-by-hop, destination, routing (16 bytes), destination",
       FrameBuilder()
           .eth()
           .ipv6(kClient6, kServer6, kProtoHop)
           .ipv6_ext(kProtoDest)
           .ipv6_ext(kProtoRouting)
           .ipv6_ext(kProtoDest, 1)
           .ipv6_ext(kProtoUdp)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn6)}},

      // Truncation at every header. Frames shorter than Ethernet never reach XDP (see below).
      {"trunc_vlan_tag_missing",
       "802.1Q ethertype and nothing after it",
       FrameBuilder().eth(kEthVlan).build(),
       XDP_PASS,
       {M},
       {}},
      {"trunc_vlan_tag_half",
       "802.1Q tag cut after 2 bytes",
       FrameBuilder().eth(kEthVlan).bytes({0x00, 0x64}).build(),
       XDP_PASS,
       {M},
       {}},
      {"trunc_ipv4_missing",
       "IPv4 ethertype and no header",
       FrameBuilder().eth(kEthIpv4).build(),
       XDP_PASS,
       {M},
       {}},
      {"trunc_ipv4_header",
       "IPv4 header cut at 19 bytes",
       conn4().truncate(kEth + kIp4 - 1).build(),
       XDP_PASS,
       {M},
       {}},
      {"trunc_ipv4_after_vlan",
       "802.1Q tag then a cut IPv4 header",
       FrameBuilder()
           .eth()
           .vlan(7)
           .ipv4(kClient4, kServer4)
           .udp(kClientPort, kPort)
           .truncate(kEth + 4 + 10)
           .build(),
       XDP_PASS,
       {M},
       {}},
      {"trunc_ipv4_options",
       "IHL 7 but the options are cut",
       FrameBuilder()
           .eth()
           .ipv4(kClient4, kServer4, kProtoUdp, rr)
           .udp(kClientPort, kPort)
           .truncate(kEth + kIp4 + 4)
           .build(),
       XDP_PASS,
       {M},
       {}},
      {"trunc_ipv6_header",
       "IPv6 header cut at 39 bytes",
       conn6().truncate(kEth + kIp6 - 1).build(),
       XDP_PASS,
       {M},
       {}},
      {"trunc_ipv6_ext_header",
       "hop-by-hop header cut at 4 bytes",
       FrameBuilder()
           .eth()
           .ipv6(kClient6, kServer6, kProtoHop)
           .ipv6_ext(kProtoUdp)
           .udp(kClientPort, kPort)
           .truncate(kEth + kIp6 + 4)
           .build(),
       XDP_PASS,
       {M},
       {}},
      {"trunc_ipv6_ext_longer_than_frame",
       "a 16-byte hop-by-hop header in a frame that ends at 8",
       FrameBuilder()
           .eth()
           .ipv6(kClient6, kServer6, kProtoHop)
           .ipv6_ext(kProtoUdp, 1)
           .truncate(kEth + kIp6 + 8)
           .build(),
       XDP_PASS,
       {M},
       {}},
      {"trunc_udp_v4",
       "UDP header cut at 4 bytes: no lookup without the whole header",
       conn4().truncate(kEth + kIp4 + 4).build(),
       XDP_PASS,
       {M},
       {}},
      {"trunc_udp_v6",
       "UDP header cut at 7 bytes",
       conn6().truncate(kEth + kIp6 + 7).build(),
       XDP_PASS,
       {M},
       {}},
      {"trunc_udp_payload_v4",
       "IP total length past the frame end: charged to the bound slot",
       conn4().truncate(kEth + kIp4 + kUdp + 4).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn4)}},
      {"trunc_udp_payload_v6",
       "IPv6 payload length past the frame end: charged to the slot",
       conn6().truncate(kEth + kIp6 + kUdp + 4).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn6)}},

      // Inconsistent IPv4 headers.
      {"v4_ihl_4", "IHL below 5", conn4().ipv4_ihl(4).build(), XDP_PASS, {M}, {}},
      {"v4_ihl_0", "IHL 0", conn4().ipv4_ihl(0).build(), XDP_PASS, {M}, {}},
      {"v4_ihl_past_frame",
       "IHL 15 in a frame without the options",
       conn4(0).ipv4_ihl(15).build(),
       XDP_PASS,
       {M},
       {}},
      {"v4_version_6",
       "IPv4 ethertype with version 6",
       conn4().ipv4_version(6).build(),
       XDP_PASS,
       {M},
       {}},
      {"v4_total_length_past_frame",
       "total length larger than the frame",
       conn4().ipv4_total_length(kIp4 + kUdp + 100).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn4)}},
      {"v4_total_length_past_frame_unbound",
       "same, to a port nobody bound: no slot to charge",
       udp4(kClient4, kClientPort, kServer4, kPortUnbound).ipv4_total_length(200).build(),
       XDP_PASS,
       {M},
       {}},
      {"v4_total_length_below_header",
       "total length smaller than the IP header",
       conn4().ipv4_total_length(12).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn4)}},
      {"v4_total_length_no_room_for_udp",
       "total length leaves less than a UDP header",
       conn4().ipv4_total_length(kIp4 + 4).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn4)}},
      {"v4_udp_length_7",
       "UDP length below its own header",
       conn4().udp_length(7).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn4)}},
      {"v4_udp_length_0",
       "UDP length 0",
       conn4().udp_length(0).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn4)}},
      {"v4_udp_length_past_ip",
       "UDP length beyond the IP payload",
       conn4(18).udp_length(kUdp + 19).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn4)}},
      {"v4_udp_length_past_ip_unbound",
       "same, to a port nobody bound",
       udp4(kClient4, kClientPort, kServer4, kPortUnbound).udp_length(100).build(),
       XDP_PASS,
       {M},
       {}},
      {"v6_udp_length_past_ip",
       "UDP length beyond the IPv6 payload",
       conn6(18).udp_length(kUdp + 19).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn6)}},
      {"v6_udp_length_0",
       "UDP length 0 (jumbogram form) is not supported",
       conn6().udp_length(0).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn6)}},
      {"v6_payload_shorter_than_ext",
       "IPv6 payload length ends inside the extension headers",
       FrameBuilder()
           .eth()
           .ipv6(kClient6, kServer6, kProtoHop)
           .ipv6_ext(kProtoUdp)
           .udp(kClientPort, kPort)
           .payload(8)
           .ipv6_payload_length(4)
           .build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn6)}},
      {"v6_version_4",
       "IPv6 ethertype with version 4",
       [] {
         Bytes b = conn6().build();
         b[kEth] = 0x40;
         return b;
       }(),
       XDP_PASS,
       {M},
       {}},
      {"double_vlan",
       "a second VLAN tag is not parsed",
       FrameBuilder()
           .eth()
           .vlan(100, kEthQinQ)
           .vlan(200)
           .ipv4(kClient4, kServer4)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {M},
       {}},

      // Fragments go to the stack, which reassembles them.
      {"v4_first_fragment",
       "MF set, offset 0",
       conn4(100).ipv4_fragment(0, true).build(),
       XDP_PASS,
       {F},
       {}},
      {"v4_middle_fragment",
       "MF set, offset 185",
       FrameBuilder().eth().ipv4(kClient4, kServer4).payload(64).ipv4_fragment(185, true).build(),
       XDP_PASS,
       {F},
       {}},
      {"v4_last_fragment",
       "MF clear, offset 185",
       FrameBuilder().eth().ipv4(kClient4, kServer4).payload(3).ipv4_fragment(185, false).build(),
       XDP_PASS,
       {F},
       {}},
      {"v4_fragment_past_frame",
       "a fragment whose total length is past the frame is malformed",
       conn4(100).ipv4_fragment(0, true).ipv4_total_length(1000).build(),
       XDP_PASS,
       {M},
       {}},
      {"v6_fragment_header",
       "IPv6 fragment header",
       FrameBuilder()
           .eth()
           .ipv6(kClient6, kServer6, kProtoFragment)
           .ipv6_fragment(kProtoUdp, 0, true)
           .udp(kClientPort, kPort)
           .payload(64)
           .build(),
       XDP_PASS,
       {F},
       {}},
      {"v6_fragment_after_hop",
       "IPv6 fragment header after hop-by-hop",
       FrameBuilder()
           .eth()
           .ipv6(kClient6, kServer6, kProtoHop)
           .ipv6_ext(kProtoFragment)
           .ipv6_fragment(kProtoUdp, 100, false)
           .payload(64)
           .build(),
       XDP_PASS,
       {F},
       {}},
      {"v6_five_ext_headers",
       "a chain longer than the walk's bound",
       FrameBuilder()
           .eth()
           .ipv6(kClient6, kServer6, kProtoHop)
           .ipv6_ext(kProtoDest)
           .ipv6_ext(kProtoRouting)
           .ipv6_ext(kProtoDest)
           .ipv6_ext(kProtoDest)
           .ipv6_ext(kProtoUdp)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {LRP_G_PASS_IPV6_EXT},
       {}},

      // Not UDP, not IP.
      {"v4_tcp",
       "TCP",
       FrameBuilder().eth().ipv4(kClient4, kServer4, kProtoTcp).payload(20).build(),
       XDP_PASS,
       {NU},
       {}},
      {"v4_icmp",
       "ICMP echo",
       FrameBuilder().eth().ipv4(kClient4, kServer4, kProtoIcmp).payload(16).build(),
       XDP_PASS,
       {NU},
       {}},
      {"v6_tcp",
       "TCP over IPv6",
       FrameBuilder().eth().ipv6(kClient6, kServer6, kProtoTcp).payload(20).build(),
       XDP_PASS,
       {NU},
       {}},
      {"v6_icmp",
       "ICMPv6",
       FrameBuilder().eth().ipv6(kClient6, kServer6, kProtoIcmp6).payload(16).build(),
       XDP_PASS,
       {NU},
       {}},
      {"v6_tcp_after_dest_opts",
       "TCP after a destination options header",
       FrameBuilder()
           .eth()
           .ipv6(kClient6, kServer6, kProtoDest)
           .ipv6_ext(kProtoTcp)
           .payload(20)
           .build(),
       XDP_PASS,
       {NU},
       {}},
      {"v6_no_next_header",
       "next header 59",
       FrameBuilder().eth().ipv6(kClient6, kServer6, 59).build(),
       XDP_PASS,
       {NU},
       {}},
      {"arp",
       "ARP request",
       FrameBuilder().eth(kEthArp, FrameBuilder::kBroadcastMac).payload(28).build(),
       XDP_PASS,
       {NI},
       {}},
      {"vlan_arp",
       "ARP behind an 802.1Q tag",
       FrameBuilder().eth().vlan(5, kEthVlan, kEthArp).payload(28).build(),
       XDP_PASS,
       {NI},
       {}},
      {"lldp", "LLDP", FrameBuilder().eth(0x88cc).payload(40).build(), XDP_PASS, {NI}, {}},
      {"ieee_802_3_length",
       "802.3 frame with a length field",
       FrameBuilder().eth(46).payload(46).build(),
       XDP_PASS,
       {NI},
       {}},

      // Only traffic addressed to this host: destination MAC, IP and VLAN.
      {"v4_to_another_host",
       "IPv4 to an address the interface does not have, on a bound port",
       udp4(kClient4, kClientPort, kOther4, kPort).build(),
       XDP_PASS,
       {NL},
       {}},
      {"v6_to_another_host",
       "IPv6 to an address the interface does not have",
       udp6(kClient6, kClientPort, kOther6, kPort).build(),
       XDP_PASS,
       {NL},
       {}},
      {"v4_to_another_host_unbound_port",
       "the host check comes before the flow lookup",
       udp4(kClient4, kClientPort, kOther4, kPortUnbound).build(),
       XDP_PASS,
       {NL},
       {}},
      {"v4_other_mac",
       "a neighbour's unicast seen in promiscuous mode (or by a macvlan sibling)",
       FrameBuilder()
           .eth(0, kOtherMac)
           .ipv4(kClient4, kServer4)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {OM},
       {}},
      {"v6_other_mac",
       "same for IPv6",
       FrameBuilder()
           .eth(0, kOtherMac)
           .ipv6(kClient6, kServer6)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {OM},
       {}},
      {"other_mac_malformed_not_charged",
       "a malformed datagram for another host is not charged to a local slot",
       FrameBuilder()
           .eth(0, kOtherMac)
           .ipv4(kClient4, kServer4)
           .udp(kClientPort, kPort)
           .payload(18)
           .udp_length(3)
           .build(),
       XDP_PASS,
       {OM},
       {}},
      {"other_mac_arp",
       "non-UDP is the stack's whatever its destination",
       FrameBuilder().eth(kEthArp, kOtherMac).payload(28).build(),
       XDP_PASS,
       {NI},
       {}},
      {"broadcast_subnet",
       "broadcast MAC to the subnet's broadcast address",
       FrameBuilder()
           .eth(0, FrameBuilder::kBroadcastMac)
           .ipv4(kOther4, kBroadcast4)
           .udp(kOtherPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {E},
       {empty(kSlotWild4)}},
      {"broadcast_limited",
       "broadcast MAC to 255.255.255.255",
       FrameBuilder()
           .eth(0, FrameBuilder::kBroadcastMac)
           .ipv4(kOther4, "255.255.255.255")
           .udp(kOtherPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {E},
       {empty(kSlotWild4)}},
      {"broadcast_address_to_our_mac",
       "the interface's MAC with a broadcast address is for this host too",
       udp4(kOther4, kOtherPort, kBroadcast4, kPort).build(),
       XDP_PASS,
       {E},
       {empty(kSlotWild4)}},
      {"broadcast_other_subnet",
       "broadcast MAC to a broadcast address of a subnet the interface is not on",
       FrameBuilder()
           .eth(0, FrameBuilder::kBroadcastMac)
           .ipv4(kOther4, "198.19.255.255")
           .udp(kOtherPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {NL},
       {}},
      {"broadcast_mac_unicast_ip",
       "broadcast MAC to a unicast address: not a broadcast the host takes",
       FrameBuilder()
           .eth(0, FrameBuilder::kBroadcastMac)
           .ipv4(kClient4, kServer4)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {NL},
       {}},
      {"multicast_mac_unicast_ip",
       "multicast MAC to a unicast local address",
       FrameBuilder()
           .eth(0, kGroup4Mac)
           .ipv4(kClient4, kServer4)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {NL},
       {}},
      {"v4_multicast_joined",
       "a group a socket joined, to its group MAC",
       FrameBuilder()
           .eth(0, kGroup4Mac)
           .ipv4(kClient4, kGroup4)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {E},
       {empty(kSlotWild4)}},
      {"v4_multicast_not_joined",
       "a group nobody joined stays with the kernel",
       FrameBuilder()
           .eth(0, {0x01, 0x00, 0x5e, 0x01, 0x01, 0x02})
           .ipv4(kClient4, "239.1.1.2")
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {NJ},
       {}},
      {"v4_multicast_joined_to_our_mac",
       "a joined group sent to the interface's own MAC",
       udp4(kClient4, kClientPort, kGroup4, kPort).build(),
       XDP_PASS,
       {E},
       {empty(kSlotWild4)}},
      {"v4_multicast_joined_broadcast_mac",
       "a joined group behind the broadcast MAC is not a frame the host takes",
       FrameBuilder()
           .eth(0, FrameBuilder::kBroadcastMac)
           .ipv4(kClient4, kGroup4)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {NL},
       {}},
      {"v4_multicast_joined_other_mac",
       "a joined group to another host's unicast MAC",
       FrameBuilder()
           .eth(0, kOtherMac)
           .ipv4(kClient4, kGroup4)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {OM},
       {}},
      {"v6_multicast_joined",
       "an IPv6 group a socket joined",
       FrameBuilder()
           .eth(0, kGroup6Mac)
           .ipv6(kClient6, kGroup6)
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {E},
       {empty(kSlotWild6)}},
      {"v6_multicast_not_joined",
       "an IPv6 group nobody joined",
       FrameBuilder()
           .eth(0, {0x33, 0x33, 0x00, 0x01, 0x00, 0x04})
           .ipv6(kClient6, "ff05::1:4")
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {NJ},
       {}},
      {"v6_all_nodes_not_joined",
       "ff02::1 (all nodes) is the kernel's unless a socket joins it",
       FrameBuilder()
           .eth(0, {0x33, 0x33, 0x00, 0x00, 0x00, 0x01})
           .ipv6(kClient6, "ff02::1")
           .udp(kClientPort, kPort)
           .payload(18)
           .build(),
       XDP_PASS,
       {NJ},
       {}},
      {"v6_link_local_destination",
       "a link-local address of the interface is local",
       udp6("fe80::2", kClientPort, kServerLinkLocal6, kPort).build(),
       XDP_PASS,
       {E},
       {empty(kSlotWild6)}},

      // Receive queues: the lookup is the same on every queue; only the XSKMAP row differs.
      {"v4_connected_queue_1",
       "queue 1 has no socket in the slot: to the stack, charged to the slot",
       conn4().build(),
       XDP_PASS,
       {E},
       {empty(kSlotConn4)},
       1},
      {"v6_local_last_queue",
       "the last queue the XSKMAP has a row for",
       udp6(kOther6, kClientPort, kServer6, kPort).build(),
       XDP_PASS,
       {E},
       {empty(kSlotLocal6)},
       LRP_MAX_QUEUES - 1},
      {"v4_queue_beyond_map",
       "a queue past the XSKMAP's rows goes to the stack under its own reason",
       conn4().build(),
       XDP_PASS,
       {LRP_G_PASS_QUEUE},
       {},
       LRP_MAX_QUEUES},
      {"v6_queue_beyond_map",
       "same for IPv6",
       conn6().build(),
       XDP_PASS,
       {LRP_G_PASS_QUEUE},
       {},
       LRP_MAX_QUEUES + 1},
      {"v4_unbound_port_queue_beyond_map",
       "no flow: the queue does not matter",
       udp4(kClient4, kClientPort, kServer4, kPortUnbound).build(),
       XDP_PASS,
       {NF},
       {},
       LRP_MAX_QUEUES},
      {"v4_shed_queue_beyond_map",
       "the shed flag is per slot and is honoured on any queue",
       udp4(kClient4, kClientPort, kServer4, kPortShed).build(),
       XDP_DROP,
       {LRP_G_SHED},
       {shed(kSlotShed)},
       LRP_MAX_QUEUES},
      {"v4_malformed_queue_1",
       "a malformed datagram is charged to its slot on any queue",
       conn4().udp_length(7).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotConn4)},
       1},

      // Ports nobody bound.
      {"v4_unbound_port",
       "IPv4 to an unbound port",
       udp4(kClient4, kClientPort, kServer4, kPortUnbound).build(),
       XDP_PASS,
       {NF},
       {}},
      {"v6_unbound_port",
       "IPv6 to an unbound port",
       udp6(kClient6, kClientPort, kServer6, kPortUnbound).build(),
       XDP_PASS,
       {NF},
       {}},
      {"v4_wildcard_not_for_v6",
       "a wildcard IPv4 bind does not catch IPv6",
       udp6(kClient6, kClientPort, kServer6, kPortV4Only).build(),
       XDP_PASS,
       {NF},
       {}},
      {"v4_wildcard_v4_only_port",
       "... but does catch IPv4",
       udp4(kClient4, kClientPort, kServer4, kPortV4Only).build(),
       XDP_PASS,
       {E},
       {empty(kSlotV4Only)}},
      {"source_port_is_not_local",
       "the bound port as source port does not match",
       udp4(kClient4, kPort, kServer4, kPortUnbound).build(),
       XDP_PASS,
       {NF},
       {}},
      {"v4_mapped_v6_is_not_local",
       "IPv6 to ::ffff:198.18.0.1 is not the local IPv4 address",
       udp6(kClient6, kClientPort, "::ffff:198.18.0.1", kPortV4Only).build(),
       XDP_PASS,
       {NL},
       {}},

      // Shedding.
      {"v4_shed",
       "shed flag up: dropped at the first touch",
       udp4(kClient4, kClientPort, kServer4, kPortShed).build(),
       XDP_DROP,
       {LRP_G_SHED},
       {shed(kSlotShed)}},
      {"v6_shed",
       "shed flag up, IPv6",
       udp6(kClient6, kClientPort, kServer6, kPortShed).build(),
       XDP_DROP,
       {LRP_G_SHED},
       {shed(kSlotShed)}},
      {"v4_shed_malformed",
       "a malformed datagram to a shed slot is passed, not shed",
       udp4(kClient4, kClientPort, kServer4, kPortShed).udp_length(3).build(),
       XDP_PASS,
       {M},
       {malformed(kSlotShed)}},
  };
}

class XdpCaseTest : public XdpProgramTest, public ::testing::WithParamInterface<Case> {};

// Suite names start with "bpf" so that `ctest -R bpf` selects these tests.
using bpf_program = XdpProgramTest;
using bpf_frames = XdpCaseTest;

TEST_P(bpf_frames, VerdictAndCounters) {
  const Case& c = GetParam();
  SCOPED_TRACE(c.description);
  expect(c.frame, c.verdict, c.global, c.slots, 1, c.queue);
}

INSTANTIATE_TEST_SUITE_P(xdp, bpf_frames, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

TEST_F(bpf_program, FramesShorterThanEthernetNeverReachXdp) {
  // The kernel refuses them before the program runs, so the program's own
  // Ethernet bounds check cannot be reached from here.
  const Bytes frame(13, 0);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 1);
  EXPECT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.lrp_xdp), &opts), -EINVAL);
  Counters c;
  ASSERT_NO_FATAL_FAILURE(read_counters(&c));
  EXPECT_EQ(c.global[LRP_G_SEEN], 0u);
}

TEST_F(bpf_program, PrecedenceFollowsTheMostSpecificFlow) {
  const Bytes frame = conn4().build();
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConn4)});
  remove_flow(connected(kServer4, kPort, kClient4, kClientPort));
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotLocal4)});
  remove_flow(local(kServer4, kPort));
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotWild4)});
  remove_flow(wildcard(4, kPort));
  expect(frame, XDP_PASS, {LRP_G_PASS_NO_FLOW}, {});
}

TEST_F(bpf_program, PrecedenceFollowsTheMostSpecificFlowV6) {
  const Bytes frame = conn6().build();
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConn6)});
  remove_flow(connected(kServer6, kPort, kClient6, kClientPort));
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotLocal6)});
  remove_flow(local(kServer6, kPort));
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotWild6)});
  remove_flow(wildcard(6, kPort));
  expect(frame, XDP_PASS, {LRP_G_PASS_NO_FLOW}, {});
}

TEST_F(bpf_program, ShedFlagCanBeLowered) {
  const Bytes frame = udp4(kClient4, kClientPort, kServer4, kPortShed).build();
  expect(frame, XDP_DROP, {LRP_G_SHED}, {shed(kSlotShed)});
  set_shed(kSlotShed, false);
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotShed)});
  set_shed(kSlotShed, true);
  expect(frame, XDP_DROP, {LRP_G_SHED}, {shed(kSlotShed)});
}

TEST_F(bpf_program, SlotOutsideTheMapsFallsBackToTheStack) {
  // A flow pointing past the slot maps is a user-space bug; the frame must
  // still reach the stack, and no slot counter can move.
  const Bytes frame = udp4(kClient4, kClientPort, kServer4, kPortUnbound).build();
  add_flow(wildcard(4, kPortUnbound), LRP_MAX_SLOTS);
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {});
}

TEST_F(bpf_program, CountersSumOverRepeatedRuns) {
  expect(conn4().build(), XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConn4)}, 50);
  expect(FrameBuilder().eth(kEthArp).payload(28).build(), XDP_PASS, {LRP_G_PASS_NOT_IP}, {}, 7);
}

TEST_F(bpf_program, RedirectsToABoundSocketAndFallsBackWhenItCloses) {
  std::string error;
  auto xsk = TestXsk::open(&error);
  ASSERT_NE(xsk, nullptr) << error;
  set_socket(0, kSlotRedirect, xsk->fd());

  const Bytes v4 = udp4(kClient4, kClientPort, kServer4, kPortRedirect).build();
  const Bytes v6 = udp6(kClient6, kClientPort, kServer6, kPortRedirect).build();
  expect(v4, XDP_REDIRECT, {LRP_G_REDIRECTED}, {{kSlotRedirect, LRP_SLOT_REDIRECTED}});
  expect(v6, XDP_REDIRECT, {LRP_G_REDIRECTED}, {{kSlotRedirect, LRP_SLOT_REDIRECTED}});
  // Shedding wins over a live socket.
  set_shed(kSlotRedirect, true);
  expect(v4, XDP_DROP, {LRP_G_SHED}, {shed(kSlotRedirect)});
  set_shed(kSlotRedirect, false);
  // Other slots still fall back: the socket is only in its own slot.
  expect(conn4().build(), XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConn4)});

  // The socket closes (its process died): the kernel empties the slot.
  xsk.reset();
  expect(v4, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotRedirect)});
}

TEST_F(bpf_program, RedirectStaysOnTheFramesOwnQueue) {
  // One socket per (queue, slot), as the engines of a multi-queue device
  // bind them: a frame goes only to the socket of the queue it arrived on.
  std::string error;
  auto on_queue_0 = TestXsk::open(&error);
  ASSERT_NE(on_queue_0, nullptr) << error;
  auto on_queue_3 = TestXsk::open(&error);
  ASSERT_NE(on_queue_3, nullptr) << error;
  const Bytes frame = udp4(kClient4, kClientPort, kServer4, kPortRedirect).build();
  const SlotCount redirected{kSlotRedirect, LRP_SLOT_REDIRECTED};

  set_socket(0, kSlotRedirect, on_queue_0->fd());
  expect(frame, XDP_REDIRECT, {LRP_G_REDIRECTED}, {redirected}, 1, 0);
  for (uint32_t queue : {1u, 3u, uint32_t{LRP_MAX_QUEUES - 1}})
    expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotRedirect)}, 1, queue);

  set_socket(3, kSlotRedirect, on_queue_3->fd());
  expect(frame, XDP_REDIRECT, {LRP_G_REDIRECTED}, {redirected}, 1, 3);
  expect(frame, XDP_REDIRECT, {LRP_G_REDIRECTED}, {redirected}, 1, 0);
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotRedirect)}, 1, 2);

  // Clearing one queue's entry leaves the other queues' entries alone.
  set_socket(0, kSlotRedirect, -1);
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotRedirect)}, 1, 0);
  expect(frame, XDP_REDIRECT, {LRP_G_REDIRECTED}, {redirected}, 1, 3);
  // Past the rows there is nothing to find, socket or not.
  expect(frame, XDP_PASS, {LRP_G_PASS_QUEUE}, {}, 1, LRP_MAX_QUEUES);
}

TEST_F(bpf_program, TestRunNeedsADeviceThatHasTheQueue) {
  // What BPF_PROG_TEST_RUN requires of the context, so that a change in the
  // kernel shows up here rather than as puzzling results above.
  const Bytes frame = conn4().build();
  xdp_md ctx{};
  ctx.data_end = static_cast<uint32_t>(frame.size());
  ctx.rx_queue_index = 1;  // without an ifindex
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &ctx,
              .ctx_size_in = sizeof(ctx), .repeat = 1);
  EXPECT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.lrp_xdp), &opts), -EINVAL);
  ctx.ingress_ifindex = static_cast<uint32_t>(ifindex_);
  ctx.rx_queue_index = kQueues;  // one past the device's queues
  EXPECT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.lrp_xdp), &opts), -EINVAL);
  ctx.rx_queue_index = kQueues - 1;
  EXPECT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.lrp_xdp), &opts), 0);
}

TEST_F(bpf_program, FramesLargerThanAPageAreJudgedByTheirWholeLength) {
  // Multi-buffer XDP (MTU 9000): only the first buffer lies between data and
  // data_end; the lengths are checked against the whole frame.
  constexpr size_t kBig = 8000;
  expect(conn4(kBig).build(), XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConn4)});
  expect(conn6(kBig).build(), XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConn6)});
  expect(conn4(kBig).pad(30).build(), XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConn4)});
  // Lengths that claim more than the whole frame are still caught.
  expect(conn4(kBig).ipv4_total_length(kIp4 + kUdp + kBig + 1).build(), XDP_PASS,
         {LRP_G_PASS_MALFORMED}, {malformed(kSlotConn4)});
  expect(conn6(kBig).ipv6_payload_length(kUdp + kBig + 1).build(), XDP_PASS, {LRP_G_PASS_MALFORMED},
         {malformed(kSlotConn6)});
  expect(conn4(kBig).udp_length(kUdp + kBig + 1).build(), XDP_PASS, {LRP_G_PASS_MALFORMED},
         {malformed(kSlotConn4)});

  std::string error;
  auto xsk = TestXsk::open(&error);
  ASSERT_NE(xsk, nullptr) << error;
  set_socket(0, kSlotRedirect, xsk->fd());
  expect(udp4(kClient4, kClientPort, kServer4, kPortRedirect, kBig).build(), XDP_REDIRECT,
         {LRP_G_REDIRECTED}, {{kSlotRedirect, LRP_SLOT_REDIRECTED}});
}

TEST_F(bpf_program, ServedVlanTakesOnlyItsOwnTag) {
  // A VLAN served through its parent device: tagged frames of that VLAN
  // only; untagged and priority-tagged frames belong to the parent.
  set_interface(FrameBuilder::kUnicastMac, 100);
  auto tagged = [](uint16_t tci, uint16_t tpid = kEthVlan) {
    return FrameBuilder()
        .eth()
        .vlan(tci, tpid)
        .ipv4(kClient4, kServer4)
        .udp(kClientPort, kPort)
        .payload(18)
        .build();
  };
  expect(tagged(100), XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConn4)});
  // Priority bits are not part of the VLAN ID.
  expect(tagged(0xe000 | 100), XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConn4)});
  expect(tagged(100, kEthQinQ), XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConn4)});
  expect(tagged(200), XDP_PASS, {LRP_G_PASS_OTHER_VLAN}, {});
  expect(tagged(0), XDP_PASS, {LRP_G_PASS_OTHER_VLAN}, {});
  expect(conn4().build(), XDP_PASS, {LRP_G_PASS_OTHER_VLAN}, {});
}

TEST_F(bpf_program, NothingIsTakenUntilTheInterfaceIsConfigured) {
  // A fresh program's configuration is all zeros (array maps start zeroed):
  // it knows no MAC, so no unicast frame is for this host.
  set_interface({0, 0, 0, 0, 0, 0}, 0);
  expect(conn4().build(), XDP_PASS, {LRP_G_PASS_OTHER_MAC}, {});
  set_interface(FrameBuilder::kUnicastMac, 0);
  expect(conn4().build(), XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConn4)});
}

TEST_F(bpf_program, AddressesAndGroupsTakeEffectWhenChanged) {
  const Bytes local = udp4(kOther4, kClientPort, kServer4, kPort).build();
  expect(local, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotLocal4)});
  set_address(kServer4, 0);  // the address was removed from the interface
  expect(local, XDP_PASS, {LRP_G_PASS_NOT_LOCAL}, {});
  set_address(kServer4, LRP_ADDR_BROADCAST);  // a broadcast address only
  expect(local, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotLocal4)});
  set_address(kServer4, LRP_ADDR_LOCAL);

  // The IPv4 form of an address does not make the IPv6 form local.
  const Bytes group = FrameBuilder()
                          .eth(0, kGroup4Mac)
                          .ipv4(kClient4, kGroup4)
                          .udp(kClientPort, kPort)
                          .payload(18)
                          .build();
  expect(group, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotWild4)});
  const auto g = addr16(kGroup4);
  ASSERT_EQ(bpf_map__delete_elem(skel_->maps.mcast_groups, g.data(), g.size(), 0), 0);
  expect(group, XDP_PASS, {LRP_G_PASS_NOT_JOINED}, {});
}

// The member the program must pick for a peer, by the rule in lrp_shared.h.
uint32_t member_for(const std::vector<uint32_t>& members, const char* peer, uint16_t port) {
  const auto a = addr16(peer);
  uint32_t words[4];
  std::memcpy(words, a.data(), sizeof(words));
  return members[lrp_reuseport_hash(words, htons(port)) % members.size()];
}

TEST_F(bpf_program, ReuseportSpreadsByPeerAndConnectedFlowsWin) {
  constexpr uint16_t kPortReuse = 7400;
  constexpr uint32_t kGroup = 3;
  const std::vector<uint32_t> members = {20, 21, 22};
  set_group(kGroup, members);
  add_group_flow(wildcard(4, kPortReuse), kGroup);
  add_group_flow(wildcard(6, kPortReuse), kGroup);

  // Many peers: each lands on the member the hash names, and every member
  // gets some of them.
  std::vector<int> hits(members.size(), 0);
  for (uint16_t i = 0; i < 60; ++i) {
    const std::string peer = "198.18." + std::to_string(1 + i % 3) + "." + std::to_string(10 + i);
    const uint16_t port = static_cast<uint16_t>(40000 + i * 7);
    const uint32_t want = member_for(members, peer.c_str(), port);
    expect(udp4(peer.c_str(), port, kServer4, kPortReuse).build(), XDP_PASS,
           {LRP_G_PASS_SLOT_EMPTY}, {empty(want)});
    ++hits[want - members.front()];
  }
  for (size_t m = 0; m < members.size(); ++m) EXPECT_GT(hits[m], 5) << "member " << members[m];
  // The same peer always reaches the same member.
  const uint32_t v6_member = member_for(members, kClient6, kClientPort);
  for (int i = 0; i < 3; ++i)
    expect(udp6(kClient6, kClientPort, kServer6, kPortReuse).build(), XDP_PASS,
           {LRP_G_PASS_SLOT_EMPTY}, {empty(v6_member)});

  // A connected socket on the same port takes its peer's datagrams.
  constexpr uint32_t kSlotConnected = 30;
  add_flow(connected(kServer4, kPortReuse, kClient4, kClientPort), kSlotConnected);
  expect(udp4(kClient4, kClientPort, kServer4, kPortReuse).build(), XDP_PASS,
         {LRP_G_PASS_SLOT_EMPTY}, {empty(kSlotConnected)});
  // Another port of the same peer still goes to the group.
  expect(udp4(kClient4, kOtherPort, kServer4, kPortReuse).build(), XDP_PASS,
         {LRP_G_PASS_SLOT_EMPTY}, {empty(member_for(members, kClient4, kOtherPort))});

  // Shedding and redirecting apply to the member picked.
  std::string error;
  auto xsk = TestXsk::open(&error);
  ASSERT_NE(xsk, nullptr) << error;
  const uint32_t picked = member_for(members, kOther4, kOtherPort);
  set_socket(0, picked, xsk->fd());
  const Bytes to_picked = udp4(kOther4, kOtherPort, kServer4, kPortReuse).build();
  expect(to_picked, XDP_REDIRECT, {LRP_G_REDIRECTED}, {{picked, LRP_SLOT_REDIRECTED}});
  set_shed(picked, true);
  expect(to_picked, XDP_DROP, {LRP_G_SHED}, {shed(picked)});
  set_shed(picked, false);

  set_socket(0, picked, -1);

  // A member leaves: the group shrinks and every peer still finds a member.
  const std::vector<uint32_t> two = {20, 22};
  set_group(kGroup, two);
  for (uint16_t i = 0; i < 20; ++i) {
    const std::string peer = "198.18.4." + std::to_string(10 + i);
    const uint32_t want = member_for(two, peer.c_str(), kClientPort);
    ASSERT_NE(want, 21u);
    expect(udp4(peer.c_str(), kClientPort, kServer4, kPortReuse).build(), XDP_PASS,
           {LRP_G_PASS_SLOT_EMPTY}, {empty(want)});
  }
}

TEST_F(bpf_program, BrokenGroupsFallBackToTheStack) {
  // Groups user space left empty, overfull or pointed past the map: the
  // frame reaches the stack and no slot is charged.
  constexpr uint16_t kPortBroken = 7500;
  const Bytes frame = udp4(kClient4, kClientPort, kServer4, kPortBroken).build();
  add_group_flow(wildcard(4, kPortBroken), 5);
  set_group(5, {});
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {});
  lrp_reuseport_group overfull{};
  overfull.count = LRP_REUSEPORT_MAX + 1;
  const uint32_t five = 5;
  ASSERT_EQ(bpf_map__update_elem(skel_->maps.reuseport_groups, &five, sizeof(five), &overfull,
                                 sizeof(overfull), BPF_ANY),
            0);
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {});
  remove_flow(wildcard(4, kPortBroken));
  add_group_flow(wildcard(4, kPortBroken), LRP_MAX_REUSEPORT_GROUPS);
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {});
  // A member slot outside the maps.
  remove_flow(wildcard(4, kPortBroken));
  add_group_flow(wildcard(4, kPortBroken), 6);
  set_group(6, {LRP_MAX_SLOTS + 3});
  expect(frame, XDP_PASS, {LRP_G_PASS_SLOT_EMPTY}, {});
}

TEST(bpf_frame_builder, FillsLengthsAndChecksum) {
  const Bytes f = conn4(10).build();
  ASSERT_EQ(f.size(), kEth + kIp4 + kUdp + 10);
  EXPECT_EQ(f[12], 0x08);
  EXPECT_EQ(f[13], 0x00);
  EXPECT_EQ(f[kEth] >> 4, 4);
  EXPECT_EQ(f[kEth] & 0x0f, 5);
  EXPECT_EQ(f[kEth + 2] << 8 | f[kEth + 3], static_cast<int>(kIp4 + kUdp + 10));
  EXPECT_EQ(f[kEth + kIp4 + 4] << 8 | f[kEth + kIp4 + 5], static_cast<int>(kUdp + 10));
  // A header with a correct checksum sums to 0xffff.
  uint32_t sum = 0;
  for (size_t i = kEth; i < kEth + kIp4; i += 2) sum += static_cast<uint32_t>(f[i] << 8 | f[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu);
}

TEST(bpf_frame_builder, StacksEthertypesAndIpv6Lengths) {
  const Bytes f = FrameBuilder()
                      .eth()
                      .vlan(100)
                      .ipv6(kClient6, kServer6, kProtoHop)
                      .ipv6_ext(kProtoUdp, 1)
                      .udp(1, 2)
                      .payload(4)
                      .pad(6)
                      .build();
  ASSERT_EQ(f.size(), kEth + 4 + kIp6 + 16 + kUdp + 4 + 6);
  EXPECT_EQ(f[12] << 8 | f[13], kEthVlan);
  EXPECT_EQ(f[16] << 8 | f[17], kEthIpv6);
  const size_t ip = kEth + 4;
  EXPECT_EQ(f[ip + 4] << 8 | f[ip + 5], static_cast<int>(16 + kUdp + 4));
  EXPECT_EQ(f[ip + kIp6 + 16 + 4] << 8 | f[ip + kIp6 + 16 + 5], static_cast<int>(kUdp + 4));
}

}  // namespace
}  // namespace lrp::test
