#include "tests/fuzz/xdp_differential.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tests/fuzz/xdp_reference.h"

namespace lrp::fuzz {

namespace {

constexpr uint8_t kKindMask = 0x03;
constexpr uint8_t kV6 = 0x04;
constexpr uint8_t kFromFrame = 0x08;
constexpr uint8_t kShed = 0x10;

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

}  // namespace

DecodedInput decode_input(std::span<const uint8_t> input) {
  DecodedInput d;
  if (input.empty()) return d;
  const size_t n = input[0] & 0x03;
  size_t at = 1;
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
                                  std::span<const uint8_t> frame) {
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>(flows.size() & 0x03));
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
  const uint32_t slot = kSocketSlot;
  const int fd = d->xsk_->fd();
  if (bpf_map__update_elem(d->skel_->maps.xsks, &slot, sizeof(slot), &fd, sizeof(fd), BPF_ANY) !=
      0) {
    *error = std::string("put the socket into the XSKMAP: ") + std::strerror(errno);
    return nullptr;
  }
  return d;
}

XdpDifferential::~XdpDifferential() {
  xsk_.reset();
  if (skel_ != nullptr) test::xdp_skel_destroy(skel_);
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
  maps.sockets.insert(kSocketSlot);
  std::vector<lrp_flow_key> keys;
  std::vector<uint32_t> slot_ids;
  std::string error;
  for (const FlowSpec& f : in.flows) {
    const lrp_flow_key key = make_key(f, in.frame);
    const lrp_flow_value value{.slot = f.slot, .pad = 0};
    if (bpf_map__update_elem(skel_->maps.flows, &key, sizeof(key), &value, sizeof(value),
                             BPF_ANY) != 0)
      return std::string("add a flow: ") + std::strerror(errno);
    keys.push_back(key);
    maps.add_flow(key, f.slot);
    if (static_cast<uint32_t>(f.slot) + 0u < static_cast<uint32_t>(LRP_MAX_SLOTS) + 0u) {  // NOLINT
      const uint32_t slot = f.slot;
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
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.frame.data(),
              .data_size_in = static_cast<uint32_t>(in.frame.size()), .repeat = 1);
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

  if (err != 0) return std::string("BPF_PROG_TEST_RUN failed: ") + std::strerror(-err);
  const Decision want = classify(in.frame, maps);
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
