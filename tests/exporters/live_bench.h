// An engine and scheduler on a fresh veth bench, applications that read or do
// not, and a paced sender: live counters for the exporter to read.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "lrp/interface.h"
#include "sched/runtime/scheduler.h"
#include "tests/support/netns.h"
#include "tests/support/udp_peer.h"

namespace lrp::test {

struct LiveBench {
  std::unique_ptr<VethBench> veth;
  std::unique_ptr<NetnsGuard> guard;  // the test thread stays in the server namespace
  std::unique_ptr<Interface> iface;
  Engine* engine = nullptr;  // the bench's one queue
  sched::MonotonicClock clock;
  std::unique_ptr<sched::Scheduler> scheduler;
};

// Empty on success, else what failed. Without a config, no scheduler.
std::string open_live_bench(LiveBench& b, const char* tag,
                            const sched::SchedulerConfig* config = nullptr);

// An application with one socket bound to any IPv4 address on `port`.
Result<sched::AppId> add_udp_app(LiveBench& b, const std::string& name, uint16_t port,
                                 uint32_t queue_bound);

// Reads and releases everything an application receives until destroyed.
class AppReader {
 public:
  AppReader(sched::Scheduler& s, sched::AppId app);
  ~AppReader();
  uint64_t received() const { return received_.load(); }
  // Waits until `count` datagrams were read; false on timeout.
  bool wait_for(uint64_t count, int timeout_ms) const;

 private:
  std::atomic<bool> running_{true};
  std::atomic<uint64_t> received_{0};
  std::thread thread_;
};

struct PacedResult {
  uint64_t sent = 0;
  double seconds = 0;  // first send to last
  double rate() const { return seconds > 0 ? static_cast<double>(sent) / seconds : 0; }
};

// Sends `rate` datagrams per second of `payload` bytes to the server's IPv4
// address and `port`, in batches every 10 ms on a fixed schedule, for
// `seconds` (bounded by that and by rate * seconds datagrams).
PacedResult send_paced(UdpPeer& peer, uint16_t port, uint32_t rate, double seconds, size_t payload);

}  // namespace lrp::test
