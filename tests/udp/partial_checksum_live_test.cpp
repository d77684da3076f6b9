// What a kernel sender's datagrams look like on the receiving end of a veth,
// captured with AF_PACKET: at the default offloads the kernel marks them
// CHECKSUM_PARTIAL (TP_STATUS_CSUMNOTREADY) and the field holds the partial
// sum, which the parser accepts only when asked and counts apart; with
// transmit checksumming off they carry full checksums.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "lrp/netdev.h"
#include "lrp/udp_frame.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp {
namespace {

using test::NetnsGuard;
using test::UdpPeer;
using test::VethBench;
using test::VethOptions;

constexpr uint16_t kPort = 7777;

struct Captured {
  std::vector<uint8_t> frame;
  bool checksum_not_ready = false;  // the kernel's own CHECKSUM_PARTIAL mark
};

// An AF_PACKET socket on the server's veth end.
class Capture {
 public:
  Capture(const VethBench& bench) {
    NetnsGuard in_server(bench.server_ns);
    if (!in_server.ok()) return;
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd_ < 0) return;
    const int one = 1;
    (void)setsockopt(fd_, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one));
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ALL);
    at.sll_ifindex = static_cast<int>(if_nametoindex(bench.server_if.c_str()));
    if (bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof(at)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Capture() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  // The next incoming UDP datagram to kPort, within a second.
  bool next(Captured* out) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      std::vector<uint8_t> buffer(4096);
      char control[CMSG_SPACE(sizeof(tpacket_auxdata))];
      iovec iov{buffer.data(), buffer.size()};
      sockaddr_ll from{};
      msghdr m{};
      m.msg_name = &from;
      m.msg_namelen = sizeof(from);
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = control;
      m.msg_controllen = sizeof(control);
      const ssize_t n = recvmsg(fd_, &m, 0);
      if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING) continue;
      buffer.resize(static_cast<size_t>(n));
      const ParseResult r = parse_udp_frame(buffer, {.verify_checksums = false});
      if (!r.ok() || r.view().destination.port != kPort) continue;
      out->frame = std::move(buffer);
      out->checksum_not_ready = false;
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
        const auto* aux = reinterpret_cast<const tpacket_auxdata*>(CMSG_DATA(c));
        out->checksum_not_ready = (aux->tp_status & TP_STATUS_CSUMNOTREADY) != 0;
      }
      return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
};

std::string outcome(const std::vector<uint8_t>& frame, bool accept_partial) {
  const ParseResult r = parse_udp_frame(frame, {.accept_partial_checksum = accept_partial});
  if (!r.ok()) return to_string(r.reason());
  return r.partial_checksum() ? "ok partial" : "ok full";
}

// Sends one datagram per family from a kernel socket on the client side and
// returns what arrived at the server's end.
std::vector<Captured> send_and_capture(const VethBench& bench) {
  Capture capture(bench);
  EXPECT_TRUE(capture.ok());
  std::vector<Captured> got;
  if (!capture.ok()) return got;
  for (int family : {AF_INET, AF_INET6}) {
    UdpPeer peer(bench.client_ns, family);
    EXPECT_TRUE(peer.ok());
    const char* to = family == AF_INET ? VethBench::kServer4 : VethBench::kServer6;
    EXPECT_TRUE(peer.send_to(to, kPort, std::string(100, 'x')));
    Captured c;
    EXPECT_TRUE(capture.next(&c)) << "nothing arrived from family " << family;
    got.push_back(std::move(c));
  }
  return got;
}

// Suite names start with udp so that ctest -R udp selects them.
TEST(udp_partial_checksum_live, DefaultVethOffloadsDeliverPartialChecksums) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("pcsum");
  ASSERT_TRUE(bench.ok);
  {
    NetnsGuard in_server(bench.server_ns);
    auto partial = driver_may_pass_partial_checksums(bench.server_if);
    ASSERT_TRUE(partial.ok()) << partial.error().message();
    EXPECT_TRUE(partial.value()) << "veth must be recognised";
  }
  const auto got = send_and_capture(bench);
  ASSERT_EQ(got.size(), 2u);
  for (const Captured& c : got) {
    EXPECT_TRUE(c.checksum_not_ready) << "the kernel did not mark the datagram partial";
    EXPECT_EQ(outcome(c.frame, false), "bad_udp_checksum");
    EXPECT_EQ(outcome(c.frame, true), "ok partial");
  }
}

TEST(udp_partial_checksum_live, WithoutTransmitOffloadChecksumsAreFull) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("fcsum", VethOptions{.tx_checksum_offload = false});
  ASSERT_TRUE(bench.ok);
  const auto got = send_and_capture(bench);
  ASSERT_EQ(got.size(), 2u);
  for (const Captured& c : got) {
    EXPECT_FALSE(c.checksum_not_ready);
    EXPECT_EQ(outcome(c.frame, false), "ok full");
    EXPECT_EQ(outcome(c.frame, true), "ok full");
  }
}

}  // namespace
}  // namespace lrp
