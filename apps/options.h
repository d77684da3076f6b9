// Command-line options of the echo servers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apps/sockperf_reply.h"
#include "cli/command_line.h"
#include "lrp/ip_address.h"
#include "lrp/result.h"

namespace lrp {

struct EchoOptions {
  std::string iface;
  std::vector<uint16_t> ports;
  int64_t work_ns = 0;
  std::string mode = "adaptive";  // adaptive | interrupt | poll | eager
  std::string threading = "rtc";  // rtc | dedicated
  std::string metrics;            // HOST:PORT, empty = off
  bool generic_xdp = false;
  bool busy_poll = false;
  bool sink = false;      // receive and discard: measures the receive path alone
  int cpu = -1;           // pin the server thread, -1 = no pinning
  double duration_s = 0;  // 0 = until SIGINT/SIGTERM
  bool quiet = false;
  ReplyRule reply = ReplyRule::Echo;
  // One application (lrp: scheduler application; kernel: thread) per port,
  // each served by its own thread, so ports are isolated from each other.
  bool app_per_port = false;
  // Relay: datagrams received on the first port are sent from the second
  // port's socket to this ADDR:PORT instead of being echoed.
  std::string forward;
  // Per-port application work, overriding work_ns for that port (a flooded
  // application too slow for its flood).
  std::vector<std::pair<uint16_t, int64_t>> port_work;
  // Ports bound but never read (a flooded application that does not read).
  std::vector<uint16_t> unread_ports;
  // lrp only: SCHED_FIFO priority of the dedicated engine thread (0: normal)
  // and the bound of each application's receive queue.
  int engine_priority = 0;
  uint32_t app_queue = 1024;
  uint32_t held_cap = 512;  // frames each socket may hold at once
  // lrp only: attach to lrpd at this control socket instead of running lrp
  // in this process; every port is an application of its own with `weight`.
  std::string lrpd;
  uint32_t weight = 1;
};

// The work per datagram received on `port`.
int64_t work_for_port(const EchoOptions& options, uint16_t port);
// Whether `port` is bound but never read.
bool is_unread(const EchoOptions& options, uint16_t port);

// The command line of lrp-echo (lrp = true) or kernel-echo, storing into *out.
cli::CommandLine echo_command_line(bool lrp, EchoOptions* out);
// The checks across options, after parsing.
Status check_echo_options(const EchoOptions& options, bool lrp);
// Parses argv into *out. Returns nothing when the server should start, or
// the status main() returns at once: 0 after --help, 2 after a bad command
// line (the reason and the usage printed).
std::optional<int> parse_echo_options(int argc, char** argv, bool lrp, EchoOptions* out);
// "9000" or "9000,9001,...".
Result<std::vector<uint16_t>> parse_port_list(const std::string& text);
Status pin_to_cpu(int cpu);
// "a.b.c.d:port" or "[v6]:port".
Result<Endpoint> parse_endpoint(const std::string& text);

}  // namespace lrp
