// The XDP program as the benchmark runs it: loaded through its skeleton in a
// private network namespace that holds a device for the frames' ifindex, its
// maps set up as for a served interface, and a program that only returns
// XDP_PASS beside it to show what BPF_PROG_TEST_RUN costs by itself.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bpf/lrp_shared.h"

struct lrp_xdp_bpf;

namespace lrp::test {
class PrivateNetns;
class TestXsk;
}  // namespace lrp::test

namespace lrp::bench {

// One BPF_PROG_TEST_RUN call over one frame.
struct Timing {
  int verdict = -1;
  uint32_t kernel_ns = 0;  // the kernel's `duration`: ns per run, rounded down
  double cpu_ns = 0;       // this thread's CPU time over the call, per run
};

class ProgramUnderTest {
 public:
  // Null on failure, with the reason in *error.
  static std::unique_ptr<ProgramUnderTest> open(std::string* error);
  ~ProgramUnderTest();
  ProgramUnderTest(const ProgramUnderTest&) = delete;
  ProgramUnderTest& operator=(const ProgramUnderTest&) = delete;

  int lrp_fd() const;
  int floor_fd() const { return floor_fd_; }

  // The VLAN ID the interface serves (0: untagged).
  bool serve_vlan(uint16_t vlan, std::string* error);
  // Runs prog_fd over frame `repeat` times as if it arrived on queue 0.
  bool run(int prog_fd, const std::vector<uint8_t>& frame, uint32_t repeat, Timing* out,
           std::string* error);
  // A global counter summed over all CPUs.
  bool global_counter(lrp_global_counter counter, uint64_t* out, std::string* error);

 private:
  ProgramUnderTest() = default;
  bool configure(std::string* error);

  std::unique_ptr<test::PrivateNetns> netns_;
  std::unique_ptr<test::TestXsk> xsk_;
  lrp_xdp_bpf* skel_ = nullptr;
  int ifindex_ = 0;
  int floor_fd_ = -1;
};

}  // namespace lrp::bench
