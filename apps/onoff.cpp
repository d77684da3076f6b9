// lrp-onoff: on/off load against an echo server. Each round idles for
// --gap-ms, sends one probe and times its echo (the first packet after
// idle), then sends a burst and drains the echoes. Bounded by --rounds.
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "apps/options.h"
#include "apps/spin.h"
#include "lrp/ip_address.h"

int main(int argc, char** argv) {
  std::string dst;
  int port = 0, rounds = 50, gap_ms = 50, burst = 2000, cpu = -1;
  lrp::cli::CommandLine cl(
      "lrp-onoff",
      "On/off load against an echo server: each round idles for --gap-ms, times the echo of\n"
      "one probe (the first packet after idle), then sends a burst and drains its echoes.");
  cl.option("--dst", "ADDR", "the echo server's address", lrp::cli::text(&dst)).required();
  cl.option("--port", "P", "the echo server's port", lrp::cli::integer(&port, 1, 65535)).required();
  cl.option("--rounds", "N", "rounds (default 50)", lrp::cli::integer(&rounds, 1, 100000));
  cl.option("--gap-ms", "MS", "idle time before each probe (default 50)",
            lrp::cli::integer(&gap_ms, 0, 10000));
  cl.option("--burst", "N", "datagrams after each probe (default 2000)",
            lrp::cli::integer(&burst, 0, 1000000));
  cl.option("--cpu", "N", "pin to this CPU", lrp::cli::integer(&cpu, 0, CPU_SETSIZE - 1));
  if (auto exit = cl.parse_or_exit(argc, argv)) return *exit;
  auto addr = lrp::IpAddress::parse(dst);
  if (!addr) return cl.fail("--dst: '" + dst + "' is not an IPv4 or IPv6 address");
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "lrp-onoff: %s\n", why.c_str());
    return 1;
  };
  if (auto st = lrp::pin_to_cpu(cpu); !st.ok()) return fail(st.error().message());
  sockaddr_storage ss;
  const socklen_t len = lrp::Endpoint{addr.value(), static_cast<uint16_t>(port)}.to_sockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return fail(std::strerror(errno));
  std::vector<int64_t> first_rtt;
  uint64_t lost_probes = 0;
  char buf[2048];
  const char payload[18] = "onoff";
  for (int r = 0; r < rounds; ++r) {
    usleep(static_cast<useconds_t>(gap_ms) * 1000);
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
    }
    const int64_t t0 = lrp::monotonic_ns();
    (void)!send(fd, payload, sizeof(payload), 0);
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 1000) > 0 && recv(fd, buf, sizeof(buf), 0) > 0)
      first_rtt.push_back(lrp::monotonic_ns() - t0);
    else
      ++lost_probes;
    for (int i = 0; i < burst; ++i) (void)!send(fd, payload, sizeof(payload), MSG_DONTWAIT);
  }
  std::sort(first_rtt.begin(), first_rtt.end());
  auto pct = [&](double p) -> double {
    if (first_rtt.empty()) return 0;
    return static_cast<double>(first_rtt[std::min(
               first_rtt.size() - 1,
               static_cast<size_t>(p * static_cast<double>(first_rtt.size())))]) /
           1000.0;
  };
  std::printf(
      "rounds=%d lost_probes=%llu first_rtt_p50_us=%.1f first_rtt_p99_us=%.1f "
      "first_rtt_max_us=%.1f\n",
      rounds, static_cast<unsigned long long>(lost_probes), pct(0.5), pct(0.99),
      first_rtt.empty() ? 0.0 : static_cast<double>(first_rtt.back()) / 1000.0);
  close(fd);
  return 0;
}
