#include "tests/fuzz/xdp_differential.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "tests/fuzz/xdp_reference.h"

namespace lrp::fuzz {

namespace {

constexpr uint8_t kKindMask = 0x03;
constexpr uint8_t kV6 = 0x04;
constexpr uint8_t kFromFrame = 0x08;
constexpr uint8_t kShed = 0x10;
constexpr uint8_t kBeyondMap = 0x20;
constexpr uint8_t kReuseport = 0x40;
// Receive queues of the test device: every queue code has one.
constexpr uint32_t kDeviceQueues = LRP_MAX_QUEUES + 1;

lrp_flow_kind kind_of(uint8_t control) {
  switch (control & kKindMask) {
    case 1:
      return LRP_FLOW_LOCAL;
    case 2:
      return LRP_FLOW_CONNECTED;
    default:
      return LRP_FLOW_WILDCARD;
  }
}

// The bench's addresses in flow-key form.
Tuple bench_tuple(bool v6, uint16_t port_be) {
  Tuple t;
  t.family = v6 ? 6 : 4;
  t.local_port = port_be;
  t.remote_port = htons(40000);
  if (v6) {
    inet_pton(AF_INET6, "2001:2::1", t.local);
    inet_pton(AF_INET6, "2001:2::2", t.remote);
  } else {
    t.local[10] = t.local[11] = t.remote[10] = t.remote[11] = 0xff;
    inet_pton(AF_INET, "198.18.0.1", t.local + 12);
    inet_pton(AF_INET, "198.18.0.2", t.remote + 12);
  }
  return t;
}

lrp_flow_key make_key(const FlowSpec& spec, std::span<const uint8_t> frame) {
  Tuple t = bench_tuple((spec.control & kV6) != 0, spec.port_be);
  if ((spec.control & kFromFrame) != 0) {
    if (auto from_frame = udp_tuple(frame)) t = *from_frame;
  }
  const lrp_flow_kind kind = kind_of(spec.control);
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

Address16 address16(const char* text) {
  Address16 a{};
  if (std::strchr(text, ':') != nullptr) {
    inet_pton(AF_INET6, text, a.data());
  } else {
    a[10] = a[11] = 0xff;
    inet_pton(AF_INET, text, a.data() + 12);
  }
  return a;
}

// The interface as byte 1 describes it, for the frame at hand.
void describe_host(uint8_t host, std::span<const uint8_t> frame, ReferenceMaps* maps) {
  static constexpr std::array<uint8_t, 6> kServerMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  static constexpr std::array<uint8_t, 6> kOtherMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
  maps->mac = (host & kHostOtherMac) != 0 ? kOtherMac : kServerMac;
  maps->vlan = 0;
  if ((host & kHostFrameVlan) != 0) {
    const bool tagged = frame.size() >= 16 && (frame[12] << 8 | frame[13]) == 0x8100;
    maps->vlan = tagged ? static_cast<uint16_t>((frame[14] << 8 | frame[15]) & 0x0fff) : 100;
  }
  if ((host & kHostBenchAddresses) != 0) {
    for (const char* a : {"198.18.0.1", "2001:2::1"})
      maps->addresses[address16(a)] = LRP_ADDR_LOCAL;
    for (const char* a : {"198.18.0.255", "255.255.255.255"})
      maps->addresses[address16(a)] = LRP_ADDR_BROADCAST;
  }
  if ((host & kHostBenchGroups) != 0)
    for (const char* g : {"239.1.1.1", "ff05::1:3"}) maps->joined.insert(address16(g));
  const auto tuple = udp_tuple(frame);
  if (!tuple) return;
  Address16 dst;
  std::memcpy(dst.data(), tuple->local, 16);
  uint32_t flags = 0;
  if ((host & kHostFrameLocal) != 0) flags |= LRP_ADDR_LOCAL;
  if ((host & kHostFrameBroadcast) != 0) flags |= LRP_ADDR_BROADCAST;
  if (flags != 0) maps->addresses[dst] = flags;
  if ((host & kHostFrameJoined) != 0) maps->joined.insert(dst);
}

}  // namespace

DecodedInput decode_input(std::span<const uint8_t> input) {
  DecodedInput d;
  if (input.empty()) return d;
  const size_t n = input[0] & 0x03;
  const uint8_t queue_code = input[0] >> 2;
  d.queue = queue_code == kQueueBeyondMap ? LRP_MAX_QUEUES : queue_code;
  if (input.size() < 2) return d;
  d.host = input[1];
  size_t at = 2;
  for (size_t i = 0; i < n && at + kFlowBytes <= input.size(); ++i, at += kFlowBytes) {
    FlowSpec f;
    f.control = input[at];
    f.slot = input[at + 1];
    std::memcpy(&f.port_be, &input[at + 2], 2);
    d.flows.push_back(f);
  }
  d.frame = input.subspan(std::min(at, input.size()));
  return d;
}

std::vector<uint8_t> encode_input(const std::vector<FlowSpec>& flows,
                                  std::span<const uint8_t> frame, uint8_t queue_code,
                                  uint8_t host) {
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>((flows.size() & 0x03) | (queue_code << 2)));
  out.push_back(host);
  for (size_t i = 0; i < flows.size() && i < 3; ++i) {
    out.push_back(flows[i].control);
    out.push_back(flows[i].slot);
    const auto* p = reinterpret_cast<const uint8_t*>(&flows[i].port_be);
    out.insert(out.end(), p, p + 2);
  }
  out.insert(out.end(), frame.begin(), frame.end());
  return out;
}

std::unique_ptr<XdpDifferential> XdpDifferential::open(std::string* error) {
  std::unique_ptr<XdpDifferential> d(new XdpDifferential());
  // The process stays in a namespace of its own, with a device that has
  // every queue an input can name.
  d->netns_ = test::PrivateNetns::enter(error);
  if (d->netns_ == nullptr) return nullptr;
  d->ifindex_ = d->netns_->add_queue_device("lrpfq", kDeviceQueues, error);
  if (d->ifindex_ == 0) return nullptr;
  d->skel_ = test::xdp_skel_open_and_load();
  if (d->skel_ == nullptr) {
    *error = std::string("load the XDP program: ") + std::strerror(errno);
    return nullptr;
  }
  d->cpus_ = libbpf_num_possible_cpus();
  if (d->cpus_ <= 0) {
    *error = "count possible CPUs";
    return nullptr;
  }
  d->xsk_ = test::TestXsk::open(error);
  if (d->xsk_ == nullptr) return nullptr;
  const int fd = d->xsk_->fd();
  for (uint32_t queue : kSocketQueues) {
    const uint32_t key = queue * LRP_MAX_SLOTS + kSocketSlot;
    if (bpf_map__update_elem(d->skel_->maps.xsks, &key, sizeof(key), &fd, sizeof(fd), BPF_ANY) !=
        0) {
      *error = std::string("put the socket into the XSKMAP: ") + std::strerror(errno);
      return nullptr;
    }
  }
  for (uint32_t index = 0; index < kGroups.size(); ++index) {
    lrp_reuseport_group g{};
    g.count = static_cast<uint32_t>(kGroups[index].size());
    for (size_t m = 0; m < kGroups[index].size(); ++m) g.member[m] = kGroups[index][m];
    if (bpf_map__update_elem(d->skel_->maps.reuseport_groups, &index, sizeof(index), &g, sizeof(g),
                             BPF_ANY) != 0) {
      *error = std::string("set a reuseport group: ") + std::strerror(errno);
      return nullptr;
    }
  }
  return d;
}

XdpDifferential::~XdpDifferential() {
  xsk_.reset();
  if (skel_ != nullptr) test::xdp_skel_destroy(skel_);
  netns_.reset();
}

bool XdpDifferential::write_host(const ReferenceMaps& maps, std::string* error) {
  lrp_iface_config config{};
  std::memcpy(config.mac, maps.mac.data(), sizeof(config.mac));
  config.vlan = maps.vlan;
  const uint32_t zero = 0;
  if (bpf_map__update_elem(skel_->maps.iface_config, &zero, sizeof(zero), &config, sizeof(config),
                           BPF_ANY) != 0) {
    *error = std::string("set the interface: ") + std::strerror(errno);
    return false;
  }
  for (const auto& [address, flags] : maps.addresses) {
    if (bpf_map__update_elem(skel_->maps.local_addrs, address.data(), address.size(), &flags,
                             sizeof(flags), BPF_ANY) != 0) {
      *error = std::string("add an address: ") + std::strerror(errno);
      return false;
    }
  }
  const uint32_t one = 1;
  for (const Address16& g : maps.joined) {
    if (bpf_map__update_elem(skel_->maps.mcast_groups, g.data(), g.size(), &one, sizeof(one),
                             BPF_ANY) != 0) {
      *error = std::string("join a group: ") + std::strerror(errno);
      return false;
    }
  }
  return true;
}

bool XdpDifferential::read_counters(std::vector<uint64_t>* global, std::vector<uint64_t>* slots,
                                    const std::vector<uint32_t>& slot_ids, std::string* error) {
  const size_t cpus = static_cast<size_t>(cpus_);
  std::vector<uint64_t> raw(cpus * LRP_SLOT_COUNTER_MAX);
  global->assign(LRP_G_COUNTER_MAX, 0);
  for (uint32_t key = 0; key < LRP_G_COUNTER_MAX; ++key) {
    if (bpf_map__lookup_elem(skel_->maps.global_counters, &key, sizeof(key), raw.data(),
                             cpus * sizeof(uint64_t), 0) != 0) {
      *error = std::string("read global counters: ") + std::strerror(errno);
      return false;
    }
    for (size_t cpu = 0; cpu < cpus; ++cpu) (*global)[key] += raw[cpu];
  }
  slots->assign(slot_ids.size() * LRP_SLOT_COUNTER_MAX, 0);
  for (size_t i = 0; i < slot_ids.size(); ++i) {
    const uint32_t slot = slot_ids[i];
    if (bpf_map__lookup_elem(skel_->maps.slot_counters, &slot, sizeof(slot), raw.data(),
                             raw.size() * sizeof(uint64_t), 0) != 0) {
      *error = std::string("read slot counters: ") + std::strerror(errno);
      return false;
    }
    for (size_t c = 0; c < LRP_SLOT_COUNTER_MAX; ++c)
      for (size_t cpu = 0; cpu < cpus; ++cpu)
        (*slots)[i * LRP_SLOT_COUNTER_MAX + c] += raw[cpu * LRP_SLOT_COUNTER_MAX + c];
  }
  return true;
}

std::string XdpDifferential::check(std::span<const uint8_t> input) {
  const DecodedInput in = decode_input(input);
  if (in.frame.size() < kMinFrame || in.frame.size() > kMaxFrame) return {};

  // The same maps on both sides. Later flows with an equal key replace
  // earlier ones, as BPF_ANY does.
  ReferenceMaps maps;
  for (uint32_t queue : kSocketQueues) maps.sockets.insert({queue, kSocketSlot});
  // Every member's counters are watched: any of them may be picked.
  std::vector<uint32_t> slot_ids;
  for (uint32_t index = 0; index < kGroups.size(); ++index) {
    lrp_reuseport_group g{};
    g.count = static_cast<uint32_t>(kGroups[index].size());
    for (size_t m = 0; m < kGroups[index].size(); ++m) {
      g.member[m] = kGroups[index][m];
      if (std::find(slot_ids.begin(), slot_ids.end(), g.member[m]) == slot_ids.end())
        slot_ids.push_back(g.member[m]);
    }
    maps.groups[index] = g;
  }
  describe_host(in.host, in.frame, &maps);
  std::string error;
  if (!write_host(maps, &error)) return error;

  std::vector<lrp_flow_key> keys;
  for (const FlowSpec& f : in.flows) {
    const lrp_flow_key key = make_key(f, in.frame);
    const bool group = (f.control & kReuseport) != 0;
    const uint32_t beyond = (f.control & kBeyondMap) == 0 ? 0
                            : group                       ? LRP_MAX_REUSEPORT_GROUPS
                                                          : LRP_MAX_SLOTS;
    const uint32_t target = (group ? f.slot % kGroups.size() : f.slot) + beyond;
    const lrp_flow_value value{
        .target = target, .kind = group ? uint32_t{LRP_TARGET_GROUP} : uint32_t{LRP_TARGET_SLOT}};
    if (bpf_map__update_elem(skel_->maps.flows, &key, sizeof(key), &value, sizeof(value),
                             BPF_ANY) != 0)
      return std::string("add a flow: ") + std::strerror(errno);
    keys.push_back(key);
    if (group)
      maps.add_group_flow(key, target);
    else
      maps.add_flow(key, target);
    // The shed flag goes on the slot, or on a group's first member.
    uint32_t slot = target;
    if (group)
      slot =
          target < kGroups.size() && !kGroups[target].empty() ? kGroups[target][0] : LRP_MAX_SLOTS;
    if (slot < LRP_MAX_SLOTS) {
      const lrp_slot_control control{.shed = (f.control & kShed) != 0 ? 1u : 0u, .pad = 0};
      if (bpf_map__update_elem(skel_->maps.slot_control, &slot, sizeof(slot), &control,
                               sizeof(control), BPF_ANY) != 0)
        return std::string("set a shed flag: ") + std::strerror(errno);
      maps.shed[slot] = control.shed != 0;
      if (std::find(slot_ids.begin(), slot_ids.end(), slot) == slot_ids.end())
        slot_ids.push_back(slot);
    }
  }

  std::vector<uint64_t> global_before, global_after, slots_before, slots_after;
  std::string result;
  if (!read_counters(&global_before, &slots_before, slot_ids, &error)) return error;
  xdp_md ctx{};
  ctx.data_end = static_cast<uint32_t>(in.frame.size());
  ctx.ingress_ifindex = static_cast<uint32_t>(ifindex_);
  ctx.rx_queue_index = in.queue;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.frame.data(),
              .data_size_in = static_cast<uint32_t>(in.frame.size()), .ctx_in = &ctx,
              .ctx_size_in = sizeof(ctx), .repeat = 1);
  const int err = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.lrp_xdp), &opts);
  ++runs_;
  if (!read_counters(&global_after, &slots_after, slot_ids, &error)) return error;

  // Leave the maps as they were for the next input.
  for (const lrp_flow_key& key : keys)
    (void)bpf_map__delete_elem(skel_->maps.flows, &key, sizeof(key), 0);
  for (uint32_t slot : slot_ids) {
    const lrp_slot_control off{.shed = 0, .pad = 0};
    (void)bpf_map__update_elem(skel_->maps.slot_control, &slot, sizeof(slot), &off, sizeof(off),
                               BPF_ANY);
  }
  for (const auto& [address, flags] : maps.addresses)
    (void)bpf_map__delete_elem(skel_->maps.local_addrs, address.data(), address.size(), 0);
  for (const Address16& g : maps.joined)
    (void)bpf_map__delete_elem(skel_->maps.mcast_groups, g.data(), g.size(), 0);

  if (err != 0) return std::string("BPF_PROG_TEST_RUN failed: ") + std::strerror(-err);
  const Decision want = classify(in.frame, maps, in.queue);
  const std::string expected = "expected " + describe(want);
  if (static_cast<int>(opts.retval) != want.verdict)
    result += expected + ", program said " + verdict_name(static_cast<int>(opts.retval)) + "; ";
  for (int c = 0; c < LRP_G_COUNTER_MAX; ++c) {
    const uint64_t delta = global_after[c] - global_before[c];
    const uint64_t wanted = (c == LRP_G_SEEN || c == want.reason) ? 1 : 0;
    if (delta != wanted)
      result += expected + ", global " + global_counter_name(c) + " moved by " +
                std::to_string(delta) + "; ";
  }
  for (size_t i = 0; i < slot_ids.size(); ++i) {
    for (int c = 0; c < LRP_SLOT_COUNTER_MAX; ++c) {
      const size_t at = i * LRP_SLOT_COUNTER_MAX + static_cast<size_t>(c);
      const uint64_t delta = slots_after[at] - slots_before[at];
      const uint64_t wanted = want.slot == slot_ids[i] && want.slot_counter == c ? 1 : 0;
      if (delta != wanted)
        result += expected + ", slot " + std::to_string(slot_ids[i]) + " " + slot_counter_name(c) +
                  " moved by " + std::to_string(delta) + "; ";
    }
  }
  return result;
}

}  // namespace lrp::fuzz
