// lrp-flood: an open-loop UDP load generator that paces in small batches,
// survives back-pressure (it retries instead of aborting) and reports what it
// actually sent, and how many replies came back. Bounded by count and time.
// With --sink-port it also receives what a relay forwards to that port and
// reports the relay's throughput and transfer-time jitter (each datagram
// carries its send time).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "apps/options.h"
#include "apps/spin.h"

namespace {

struct FloodOptions {
  std::string dst;
  uint16_t port = 0;
  double rate = 0;  // datagrams per second, 0 = as fast as possible
  uint64_t count = 1'000'000;
  double duration_s = 10;
  size_t size = 18;  // payload bytes: 64-byte frames on IPv4
  unsigned batch = 16;
  int cpu = -1;
  uint16_t sink_port = 0;  // 0 = no sink
};

// Transfer time of relayed datagrams: jitter is the difference between
// consecutive transfer times (as RFC 3550 defines it, without smoothing).
struct TransitStats {
  uint64_t count = 0;
  double sum_transit_ns = 0, sum_jitter_ns = 0, max_jitter_ns = 0;
  int64_t last_transit_ns = -1;
  void add(int64_t transit_ns) {
    ++count;
    sum_transit_ns += static_cast<double>(transit_ns);
    if (last_transit_ns >= 0) {
      const double j = std::abs(static_cast<double>(transit_ns - last_transit_ns));
      sum_jitter_ns += j;
      max_jitter_ns = std::max(max_jitter_ns, j);
    }
    last_transit_ns = transit_ns;
  }
};

// Wall-clock time: the kernel stamps each datagram the sink receives with it
// (SO_TIMESTAMPNS), so a delay in reading the sink does not count as jitter.
int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The sink socket's receive buffers, with room for each datagram's timestamp.
class SinkBatch {
 public:
  explicit SinkBatch(unsigned n) : bufs_(n * 2048), iov_(n), msgs_(n), control_(n) {
    for (unsigned i = 0; i < n; ++i) iov_[i] = {&bufs_[i * 2048], 2048};
  }
  mmsghdr* arm() {
    for (size_t i = 0; i < msgs_.size(); ++i) {
      msgs_[i] = {};
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
      msgs_[i].msg_hdr.msg_control = control_[i].data;
      msgs_[i].msg_hdr.msg_controllen = sizeof(control_[i].data);
    }
    return msgs_.data();
  }
  unsigned size() const { return static_cast<unsigned>(msgs_.size()); }
  // Send time carried in the payload and kernel receive time of datagram i.
  bool times(unsigned i, int64_t* sent, int64_t* received) {
    if (msgs_[i].msg_len < sizeof(int64_t)) return false;
    std::memcpy(sent, iov_[i].iov_base, sizeof(*sent));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msgs_[i].msg_hdr); c != nullptr;
         c = CMSG_NXTHDR(&msgs_[i].msg_hdr, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts;
        std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
        *received = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
        return true;
      }
    }
    *received = realtime_ns();
    return true;
  }

 private:
  struct Control {
    alignas(cmsghdr) char data[CMSG_SPACE(sizeof(timespec))];
  };
  std::vector<char> bufs_;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
  std::vector<Control> control_;
};

// Receives what is waiting on the sink socket and times each datagram.
void drain_sink(int fd, SinkBatch& batch, TransitStats& stats) {
  if (fd < 0) return;
  const int r = recvmmsg(fd, batch.arm(), batch.size(), MSG_DONTWAIT, nullptr);
  for (int i = 0; i < r; ++i) {
    int64_t sent = 0, received = 0;
    if (batch.times(static_cast<unsigned>(i), &sent, &received)) stats.add(received - sent);
  }
}

}  // namespace

int main(int argc, char** argv) {
  FloodOptions o;
  lrp::cli::CommandLine cl(
      "lrp-flood",
      "An open-loop UDP load generator: paces in small batches, retries when the device pushes\n"
      "back, stops after --count datagrams or --duration seconds, and reports what it sent\n"
      "and how many replies came back.");
  cl.option("--dst", "ADDR", "destination address (IPv4 or IPv6)", lrp::cli::text(&o.dst))
      .required();
  cl.option("--port", "P", "destination port", lrp::cli::integer(&o.port, 1, 65535)).required();
  cl.option("--rate", "PPS", "datagrams per second (default 0: as fast as possible)",
            lrp::cli::real(&o.rate, 0, 1e9));
  cl.option("--count", "N", "stop after N datagrams (default 1000000)",
            lrp::cli::integer(&o.count, 0, INT64_MAX));
  cl.option("--duration", "S", "stop after S seconds (default 10, at most 3600)",
            lrp::cli::real(&o.duration_s, 0.001, 3600));
  cl.option("--size", "BYTES", "UDP payload (default 18: 64-byte frames on IPv4)",
            lrp::cli::integer(&o.size, 0, 65507));
  cl.option("--batch", "N", "datagrams per sendmmsg (default 16)",
            lrp::cli::integer(&o.batch, 1, 256));
  cl.option("--cpu", "N", "pin to this CPU", lrp::cli::integer(&o.cpu, 0, CPU_SETSIZE - 1));
  cl.option("--sink-port", "P",
            "also receive what a relay forwards to this port and report its throughput and "
            "jitter",
            lrp::cli::integer(&o.sink_port, 0, 65535));
  if (auto exit = cl.parse_or_exit(argc, argv)) return *exit;
  if (o.sink_port != 0 && o.size < sizeof(int64_t))
    return cl.fail("--sink-port needs --size of at least 8 (the send time)");
  auto fail = [](const std::string& why) {
    std::fprintf(stderr, "lrp-flood: %s\n", why.c_str());
    return 1;
  };
  if (auto st = lrp::pin_to_cpu(o.cpu); !st.ok()) return fail(st.error().message());

  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (inet_pton(AF_INET, o.dst.c_str(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(o.port);
    len = sizeof(*sin);
  } else if (inet_pton(AF_INET6, o.dst.c_str(), &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr) ==
             1) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(o.port);
    len = sizeof(*sin6);
    family = AF_INET6;
  } else {
    return cl.fail("--dst: '" + o.dst + "' is not an IPv4 or IPv6 address");
  }
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(std::strerror(errno));
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sndbuf, sizeof(sndbuf));
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail(std::strerror(errno));

  std::vector<char> payload(o.size, 'f');
  std::vector<iovec> iov(o.batch);
  std::vector<mmsghdr> msgs(o.batch);
  for (unsigned i = 0; i < o.batch; ++i) {
    iov[i] = {payload.data(), payload.size()};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int sink_fd = -1;
  if (o.sink_port != 0) {
    sink_fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage local{};
    socklen_t local_len = len;
    local.ss_family = static_cast<sa_family_t>(family);
    if (family == AF_INET)
      reinterpret_cast<sockaddr_in*>(&local)->sin_port = htons(o.sink_port);
    else
      reinterpret_cast<sockaddr_in6*>(&local)->sin6_port = htons(o.sink_port);
    setsockopt(sink_fd, SOL_SOCKET, SO_RCVBUFFORCE, &sndbuf, sizeof(sndbuf));
    if (sink_fd < 0 || bind(sink_fd, reinterpret_cast<sockaddr*>(&local), local_len) != 0)
      return fail("--sink-port: " + std::string(std::strerror(errno)));
  }
  TransitStats transit;
  SinkBatch sink_batch(o.batch);
  if (sink_fd >= 0) {
    int on = 1;
    setsockopt(sink_fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
  }
  std::vector<char> rbuf(o.batch * 2048);
  std::vector<iovec> riov(o.batch);
  std::vector<mmsghdr> rmsgs(o.batch);
  for (unsigned i = 0; i < o.batch; ++i) {
    riov[i] = {&rbuf[i * 2048], 2048};
    rmsgs[i] = {};
    rmsgs[i].msg_hdr.msg_iov = &riov[i];
    rmsgs[i].msg_hdr.msg_iovlen = 1;
  }

  const int64_t start = lrp::monotonic_ns();
  const int64_t end = start + static_cast<int64_t>(o.duration_s * 1e9);
  const double gap_ns = o.rate > 0 ? 1e9 / o.rate : 0;
  uint64_t sent = 0, replies = 0, retries = 0;
  int64_t now = start;
  while (sent < o.count && now < end) {
    // Open loop: the schedule says how many should have gone by now.
    uint64_t due = o.count;
    if (gap_ns > 0) due = static_cast<uint64_t>(static_cast<double>(now - start) / gap_ns) + 1;
    if (due > sent) {
      const unsigned n = static_cast<unsigned>(
          std::min<uint64_t>({uint64_t{o.batch}, due - sent, o.count - sent}));
      if (sink_fd >= 0) {
        const int64_t stamp = realtime_ns();
        std::memcpy(payload.data(), &stamp, sizeof(stamp));
      }
      const int k = sendmmsg(fd, msgs.data(), n, MSG_DONTWAIT);
      if (k > 0)
        sent += static_cast<uint64_t>(k);
      else
        ++retries;  // the device pushed back: try again, do not abort
    }
    const int r = recvmmsg(fd, rmsgs.data(), o.batch, MSG_DONTWAIT, nullptr);
    if (r > 0) replies += static_cast<uint64_t>(r);
    drain_sink(sink_fd, sink_batch, transit);
    now = lrp::monotonic_ns();
  }
  const double send_elapsed = static_cast<double>(now - start) / 1e9;
  // Late replies still count, for a short while.
  const int64_t drain_end = lrp::monotonic_ns() + 200'000'000;
  while (lrp::monotonic_ns() < drain_end) {
    const int r = recvmmsg(fd, rmsgs.data(), o.batch, MSG_DONTWAIT, nullptr);
    if (r > 0) replies += static_cast<uint64_t>(r);
    const uint64_t before = transit.count;
    drain_sink(sink_fd, sink_batch, transit);
    if (r <= 0 && transit.count == before) usleep(1000);
  }
  std::printf("sent=%llu elapsed_s=%.3f sent_pps=%.0f replies=%llu reply_pps=%.0f retries=%llu\n",
              static_cast<unsigned long long>(sent), send_elapsed,
              static_cast<double>(sent) / send_elapsed, static_cast<unsigned long long>(replies),
              static_cast<double>(replies) / send_elapsed,
              static_cast<unsigned long long>(retries));
  if (sink_fd >= 0) {
    const double n = static_cast<double>(std::max<uint64_t>(transit.count, 1));
    std::printf(
        "sink_received=%llu sink_pps=%.0f transit_avg_us=%.1f jitter_avg_us=%.2f "
        "jitter_max_us=%.1f\n",
        static_cast<unsigned long long>(transit.count),
        static_cast<double>(transit.count) / send_elapsed, transit.sum_transit_ns / n / 1e3,
        transit.sum_jitter_ns / std::max(n - 1, 1.0) / 1e3, transit.max_jitter_ns / 1e3);
    close(sink_fd);
  }
  close(fd);
  return 0;
}
