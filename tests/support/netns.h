// A private test bench: two network namespaces joined by a veth pair as
// `ip link add ... type veth` makes it (default offloads, one queue, MTU
// 1500 unless asked otherwise), addressed from the benchmarking ranges only,
// removed on destruction.
#pragma once

#include <cstdint>
#include <string>

namespace lrp::test {

// Runs a shell command; returns its exit status (0 on success).
int run(const std::string& command);

// Enters a named network namespace for the calling thread; restores on destruction.
class NetnsGuard {
 public:
  explicit NetnsGuard(const std::string& netns);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;
  bool ok() const { return ok_; }

 private:
  int saved_fd_ = -1;
  bool ok_ = false;
};

struct VethOptions {
  // Off: both ends checksum in software (ethtool -K tx off), so a kernel
  // sender's datagrams arrive with full checksums. Only for a test of that
  // fully verified path: at the default, kernel senders leave partial ones.
  bool tx_checksum_offload = true;
  uint32_t mtu = 0;     // both ends; 0: the default (1500)
  uint32_t queues = 1;  // receive and transmit queues of each end
};

struct VethBench {
  // tag: a short word naming the test; the bench's names add the pid and a
  // counter. queues: receive and transmit queues of each end (a multi-queue
  // device: a frame lands on the peer's receive queue of its sender's
  // transmit queue, chosen per flow and sending CPU).
  explicit VethBench(const std::string& tag, unsigned queues = 1);
  // The same with options (offloads, MTU, queues).
  VethBench(const std::string& tag, const VethOptions& options);
  ~VethBench();
  VethBench(const VethBench&) = delete;
  VethBench& operator=(const VethBench&) = delete;

  bool ok = false;
  std::string server_ns, client_ns;  // namespace names
  std::string server_if, client_if;  // veth ends
  // Server side holds lrp; client side runs ordinary kernel sockets.
  static constexpr const char* kServer4 = "198.18.0.1";
  static constexpr const char* kClient4 = "198.18.0.2";
  static constexpr const char* kServer6 = "2001:2::1";
  static constexpr const char* kClient6 = "2001:2::2";
};

// A counter from /sys/class/net/IF/statistics/ as seen inside a namespace;
// -1 when it cannot be read.
int64_t link_statistic(const std::string& netns, const std::string& ifname,
                       const std::string& counter);

// Removes namespaces left by test processes that no longer exist.
void remove_stale_benches();

}  // namespace lrp::test
