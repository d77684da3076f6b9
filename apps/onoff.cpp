// lrp-onoff: on/off load against an echo server. Each round idles for
// --gap-ms, sends one probe and times its echo (the first packet after
// idle), then sends a burst and drains the echoes. Bounded by --rounds.
#include <arpa/inet.h>
#include <poll.h>
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

namespace {

int usage(const char* why) {
  std::fprintf(stderr,
               "lrp-onoff: %s\nusage: lrp-onoff --dst ADDR --port P [--rounds N] [--gap-ms MS] "
               "[--burst N] [--cpu N]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dst;
  int port = 0, rounds = 50, gap_ms = 50, burst = 2000, cpu = -1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return usage((arg + " needs a value").c_str());
    const char* v = argv[++i];
    if (arg == "--dst")
      dst = v;
    else if (arg == "--port")
      port = std::atoi(v);
    else if (arg == "--rounds")
      rounds = std::atoi(v);
    else if (arg == "--gap-ms")
      gap_ms = std::atoi(v);
    else if (arg == "--burst")
      burst = std::atoi(v);
    else if (arg == "--cpu")
      cpu = std::atoi(v);
    else
      return usage(("unknown option " + arg).c_str());
  }
  auto addr = lrp::IpAddress::parse(dst);
  if (!addr || port <= 0 || port > 65535) return usage("--dst ADDR and --port P are required");
  if (rounds < 1 || rounds > 100000 || gap_ms < 0 || gap_ms > 10000 || burst < 0 || burst > 1000000)
    return usage("--rounds 1..100000, --gap-ms 0..10000, --burst 0..1000000");
  if (auto st = lrp::pin_to_cpu(cpu); !st.ok()) return usage(st.error().message().c_str());
  sockaddr_storage ss;
  const socklen_t len = lrp::Endpoint{addr.value(), static_cast<uint16_t>(port)}.to_sockaddr(&ss);
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return usage(std::strerror(errno));
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
