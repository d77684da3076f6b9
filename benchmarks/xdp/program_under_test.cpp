#include "benchmarks/xdp/program_under_test.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "benchmarks/xdp/frame_cases.h"
#include "lrp_xdp.skel.h"
#include "tests/bpf/frame_builder.h"
#include "tests/bpf/private_netns.h"
#include "tests/bpf/test_xsk.h"

namespace lrp::bench {

namespace {

std::string failed(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

lrp_flow_key flow_key(lrp_flow_kind kind, const char* local, uint16_t local_port,
                      const char* remote, uint16_t remote_port, int family) {
  lrp_flow_key key;
  std::memset(&key, 0, sizeof(key));
  if (local != nullptr) std::memcpy(key.local_addr, test::addr16(local).data(), 16);
  if (remote != nullptr) std::memcpy(key.remote_addr, test::addr16(remote).data(), 16);
  key.local_port = htons(local_port);
  key.remote_port = htons(remote_port);
  key.kind = static_cast<uint8_t>(kind);
  key.family = static_cast<uint8_t>(family);
  return key;
}

// XDP_PASS and nothing else: what the test run costs around any program.
int load_floor_program() {
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS},
      {.code = BPF_JMP | BPF_EXIT},
  };
  return bpf_prog_load(BPF_PROG_TYPE_XDP, "lrp_bench_floor", "Dual BSD/GPL", insns, 2, nullptr);
}

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

}  // namespace

std::unique_ptr<ProgramUnderTest> ProgramUnderTest::open(std::string* error) {
  std::unique_ptr<ProgramUnderTest> p(new ProgramUnderTest());
  // BPF_PROG_TEST_RUN takes an ifindex only of a device in this thread's namespace.
  p->netns_ = test::PrivateNetns::enter(error);
  if (!p->netns_) return nullptr;
  p->ifindex_ = p->netns_->add_queue_device("lrpbench", 1, error);
  if (p->ifindex_ <= 0) return nullptr;
  p->skel_ = lrp_xdp_bpf__open_and_load();
  if (p->skel_ == nullptr) {
    *error = failed("load the XDP program (lrp_xdp_bpf__open_and_load)", errno);
    return nullptr;
  }
  p->floor_fd_ = load_floor_program();
  if (p->floor_fd_ < 0) {
    *error = failed("load the XDP_PASS-only program", errno);
    return nullptr;
  }
  // The kernel takes only AF_XDP sockets into an XSKMAP.
  p->xsk_ = test::TestXsk::open(error);
  if (!p->xsk_) return nullptr;
  if (!p->configure(error)) return nullptr;
  return p;
}

ProgramUnderTest::~ProgramUnderTest() {
  if (floor_fd_ >= 0) close(floor_fd_);
  if (skel_ != nullptr) lrp_xdp_bpf__destroy(skel_);
  xsk_.reset();
  netns_.reset();  // last: returns the thread to its namespace
}

int ProgramUnderTest::lrp_fd() const {
  return bpf_program__fd(skel_->progs.lrp_xdp);
}

bool ProgramUnderTest::serve_vlan(uint16_t vlan, std::string* error) {
  lrp_iface_config config{};
  std::memcpy(config.mac, kOurMac.data(), kOurMac.size());
  config.vlan = vlan;
  const uint32_t zero = 0;
  if (bpf_map__update_elem(skel_->maps.iface_config, &zero, sizeof(zero), &config, sizeof(config),
                           BPF_ANY) != 0) {
    *error = failed("set iface_config", errno);
    return false;
  }
  return true;
}

bool ProgramUnderTest::configure(std::string* error) {
  if (!serve_vlan(0, error)) return false;
  const auto put = [&](bpf_map* map, const void* key, size_t key_size, const void* value,
                       size_t value_size, const char* what) {
    if (bpf_map__update_elem(map, key, key_size, value, value_size, BPF_ANY) == 0) return true;
    *error = failed(std::string("fill ") + what, errno);
    return false;
  };
  const uint32_t local = LRP_ADDR_LOCAL, joined = 1;
  for (const char* a : {kServer4, kServer6}) {
    const auto key = test::addr16(a);
    if (!put(skel_->maps.local_addrs, key.data(), key.size(), &local, sizeof(local), "local_addrs"))
      return false;
  }
  for (const char* g : {kGroup4, kGroup6}) {
    const auto key = test::addr16(g);
    if (!put(skel_->maps.mcast_groups, key.data(), key.size(), &joined, sizeof(joined),
             "mcast_groups"))
      return false;
  }
  struct Flow {
    lrp_flow_key key;
    uint32_t slot;
  };
  const Flow flows[] = {
      {flow_key(LRP_FLOW_WILDCARD, nullptr, kPort, nullptr, 0, 4), kSlotWildcard},
      {flow_key(LRP_FLOW_WILDCARD, nullptr, kPort, nullptr, 0, 6), kSlotWildcard},
      {flow_key(LRP_FLOW_CONNECTED, kServer4, kPort, kClient4, kClientPort, 4), kSlotConnected4},
      {flow_key(LRP_FLOW_CONNECTED, kServer6, kPort, kClient6, kClientPort, 6), kSlotConnected6},
      {flow_key(LRP_FLOW_CONNECTED, kServer4, kPortSocket, kClient4, kClientPort, 4), kSlotSocket},
      {flow_key(LRP_FLOW_CONNECTED, kServer6, kPortSocket, kClient6, kClientPort, 6), kSlotSocket},
  };
  for (const Flow& f : flows) {
    const lrp_flow_value value{.target = f.slot, .kind = LRP_TARGET_SLOT};
    if (!put(skel_->maps.flows, &f.key, sizeof(f.key), &value, sizeof(value), "flows"))
      return false;
  }
  const uint32_t xsk_key = 0 * LRP_MAX_SLOTS + kSlotSocket;  // queue 0
  const int xsk_fd = xsk_->fd();
  return put(skel_->maps.xsks, &xsk_key, sizeof(xsk_key), &xsk_fd, sizeof(xsk_fd), "xsks");
}

bool ProgramUnderTest::run(int prog_fd, const std::vector<uint8_t>& frame, uint32_t repeat,
                           Timing* out, std::string* error) {
  xdp_md ctx{};
  ctx.data_end = static_cast<uint32_t>(frame.size());
  ctx.ingress_ifindex = static_cast<uint32_t>(ifindex_);
  ctx.rx_queue_index = 0;
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
              .data_size_in = static_cast<uint32_t>(frame.size()), .ctx_in = &ctx,
              .ctx_size_in = sizeof(ctx), .repeat = static_cast<int>(repeat));
  const double cpu_before = thread_cpu_ns();
  const int err = bpf_prog_test_run_opts(prog_fd, &opts);
  const double cpu_after = thread_cpu_ns();
  if (err != 0) {
    *error = failed("BPF_PROG_TEST_RUN", -err);
    return false;
  }
  out->verdict = static_cast<int>(opts.retval);
  out->kernel_ns = opts.duration;
  out->cpu_ns = (cpu_after - cpu_before) / repeat;
  return true;
}

bool ProgramUnderTest::global_counter(lrp_global_counter counter, uint64_t* out,
                                      std::string* error) {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) {
    *error = failed("libbpf_num_possible_cpus", -cpus);
    return false;
  }
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  const uint32_t key = counter;
  if (bpf_map__lookup_elem(skel_->maps.global_counters, &key, sizeof(key), per_cpu.data(),
                           per_cpu.size() * sizeof(uint64_t), 0) != 0) {
    *error = failed("read global_counters", errno);
    return false;
  }
  *out = 0;
  for (uint64_t v : per_cpu) *out += v;
  return true;
}

}  // namespace lrp::bench
