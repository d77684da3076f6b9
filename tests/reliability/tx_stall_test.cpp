// Transmit when the far end goes away: sends fail with a clear error after
// a bounded wait instead of hanging, and the frames come back.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "lrp/interface.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct TxBench {
  std::unique_ptr<VethBench> bench;
  std::unique_ptr<NetnsGuard> guard;
  std::unique_ptr<Interface> iface;
  Engine* engine = nullptr;
  SlotId slot = 0;
};

void open_tx_bench(TxBench& b, const char* tag, const SocketOptions& options = {}) {
  b.bench = std::make_unique<VethBench>(tag);
  ASSERT_TRUE(b.bench->ok);
  b.guard = std::make_unique<NetnsGuard>(b.bench->server_ns);
  ASSERT_TRUE(b.guard->ok());
  InterfaceConfig config;
  config.ifname = b.bench->server_if;
  auto iface = Interface::open(config);
  ASSERT_TRUE(iface.ok()) << iface.error().message();
  b.iface = std::move(iface.value());
  b.engine = &b.iface->engine(0);
  BindSpec bind;
  bind.port = 7500;
  auto slot = b.iface->open_socket(bind, options);
  ASSERT_TRUE(slot.ok()) << slot.error().message();
  b.slot = slot.value();
  // The peer's MAC is learnt while it is still there.
  UdpPeer peer(b.bench->client_ns, AF_INET, 7501);
  const Endpoint to{*IpAddress::parse(VethBench::kClient4), 7501};
  const uint8_t hi[2] = {'h', 'i'};
  // Taken at once; it leaves when ARP has answered.
  Status st = b.engine->send(b.slot, to, hi);
  ASSERT_TRUE(st.ok()) << st.error().message();
  ASSERT_TRUE(b.engine->flush(b.slot).ok());
  std::string got;
  ASSERT_TRUE(peer.receive(&got, 2000));
}

// Sends (ignoring kick errors, as a careless caller would) until send()
// reports an error other than EAGAIN, or until `limit`.
Error send_until_error(Engine& e, SlotId slot, std::chrono::milliseconds limit, Error* kick) {
  const Endpoint to{*IpAddress::parse(VethBench::kClient4), 7501};
  const uint8_t payload[32] = {};
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    Status st = e.send(slot, to, payload);
    if (!st.ok() && st.error().code != EAGAIN) return st.error();
    Status f = e.flush(slot);
    if (!f.ok() && kick->code == 0) *kick = f.error();
    std::this_thread::sleep_for(100us);
  }
  return Error{0, "no error within the limit"};
}

// A kernel UDP socket's sendto from `netns`: 0 or the errno.
int kernel_sendto_error(const std::string& netns) {
  UdpPeer k(netns, AF_INET);
  if (!k.ok()) return -1;
  return k.send_to(VethBench::kClient4, 7501, "k") ? 0 : errno;
}

TEST(TxStall, OwnLinkDownFailsSendsAsTheKernelsAndRecovers) {
  LRP_REQUIRE_PRIVILEGES();
  TxBench b;
  ASSERT_NO_FATAL_FAILURE(open_tx_bench(b, "txo"));
  const std::string link = "ip -n " + b.bench->server_ns + " link set " + b.bench->server_if;
  ASSERT_EQ(run(link + " down"), 0);
  Error kick;
  const auto start = Clock::now();
  const Error e = send_until_error(*b.engine, b.slot, 5s, &kick);
  const auto took = Clock::now() - start;
  // The link's routes went with it: the kernel's sockets hear "no route",
  // and so do lrp's, at once (the stall timeout is for devices that keep
  // their routes and stop transmitting).
  EXPECT_EQ(kernel_sendto_error(b.bench->server_ns), ENETUNREACH);
  EXPECT_EQ(e.code, ENETUNREACH) << e.message();
  EXPECT_NE(e.message().find("198.18.0.2"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find(b.bench->server_if), std::string::npos) << e.message();
  EXPECT_LT(took, 3s);

  // Link back: the queued frames go out, completions return, sends work.
  ASSERT_EQ(run(link + " up"), 0);
  bool recovered = false;
  const Endpoint to{*IpAddress::parse(VethBench::kClient4), 7501};
  const uint8_t payload[8] = {};
  for (auto deadline = Clock::now() + 5s; !recovered && Clock::now() < deadline;) {
    (void)b.engine->flush(b.slot);
    recovered = b.engine->send(b.slot, to, payload).ok();
    if (!recovered) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(recovered) << "sends did not recover after the link came back";
  (void)b.engine->flush(b.slot);
  std::string why;
  EXPECT_TRUE(b.engine->frames_accounted(&why)) << why;
}

TEST(TxStall, PeerDeletedIsAClearErrorAndFramesComeBack) {
  LRP_REQUIRE_PRIVILEGES();
  TxBench b;
  ASSERT_NO_FATAL_FAILURE(open_tx_bench(b, "txx"));
  // Deleting the peer's namespace deletes the whole veth pair.
  ASSERT_EQ(run("ip netns del " + b.bench->client_ns), 0);
  Error kick;
  const auto start = Clock::now();
  const Error e = send_until_error(*b.engine, b.slot, 5s, &kick);
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_NE(e.code, 0) << "sends kept being accepted with the device gone";
  // The device's routes and addresses go with it: sends fail as a kernel
  // socket's do (ENETUNREACH, or EADDRNOTAVAIL when the address went first),
  // or, if a send came before the route went, its kick says so.
  EXPECT_TRUE(e.code == ENETUNREACH || e.code == EADDRNOTAVAIL || kick.code == ENETDOWN ||
              kick.code == ENXIO)
      << e.message() << " / " << kick.message();
  ASSERT_TRUE(b.iface->close_socket(b.slot).ok());
  EXPECT_EQ(b.engine->frames().counts().at(FramePlace::KernelTx), 0u);
  EXPECT_EQ(b.engine->frames().counts().at(FramePlace::Held), 0u);
}

TEST(TxStall, PeerDownEndsInAnUnreachableNeighbour) {
  LRP_REQUIRE_PRIVILEGES();
  TxBench b;
  // Errors reported as with IP_RECVERR: without it the kernel says nothing
  // of a neighbour that failed, and neither does lrp (the drops are counted).
  SocketOptions reporting;
  reporting.report_errors = true;
  ASSERT_NO_FATAL_FAILURE(open_tx_bench(b, "txd", reporting));
  ASSERT_EQ(run("ip -n " + b.bench->client_ns + " link set " + b.bench->client_if + " down"), 0);
  // Frames to a peer without carrier are dropped and completed by the
  // device, so nothing is stuck; the neighbour entry then fails.
  Error kick;
  const Error e = send_until_error(*b.engine, b.slot, 10s, &kick);
  EXPECT_EQ(e.code, EHOSTUNREACH) << e.message();
  EXPECT_NE(e.message().find("198.18.0.2"), std::string::npos) << e.message();
  EXPECT_GT(b.engine->neighbour_drops(b.slot), 0u);
  (void)b.engine->flush(b.slot);
  EXPECT_EQ(b.engine->frames().counts().at(FramePlace::KernelTx), 0u);
}

}  // namespace
}  // namespace lrp::test
