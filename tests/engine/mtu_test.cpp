// Datagrams up to the interface's MTU: on a 9000-byte MTU veth the frames
// are larger than a UMEM frame and travel as AF_XDP multi-buffer chains
// (XDP_USE_SG) both ways; without multi-buffer lrp refuses to start and says
// what to do.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "lrp/interface.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp {
namespace {

using test::NetnsGuard;
using test::UdpPeer;
using test::VethBench;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class Mtu9000 : public ::testing::Test {
 protected:
  void SetUp() override {
    LRP_REQUIRE_PRIVILEGES();
    bench_ = std::make_unique<VethBench>("mtu");
    ASSERT_TRUE(bench_->ok) << "could not build the veth bench";
    ASSERT_EQ(
        test::run("ip -n " + bench_->server_ns + " link set " + bench_->server_if + " mtu 9000"),
        0);
    ASSERT_EQ(
        test::run("ip -n " + bench_->client_ns + " link set " + bench_->client_if + " mtu 9000"),
        0);
    guard_ = std::make_unique<NetnsGuard>(bench_->server_ns);
    ASSERT_TRUE(guard_->ok());
  }
  void TearDown() override {
    iface_.reset();
    guard_.reset();
    bench_.reset();
  }
  InterfaceConfig config() const {
    InterfaceConfig c;
    c.ifname = bench_->server_if;
    // Generic XDP takes any MTU; native XDP on veth needs a multi-buffer
    // (xdp.frags) program above about 3.5 kB.
    c.xdp_mode = XdpMode::Generic;
    return c;
  }

  std::unique_ptr<VethBench> bench_;
  std::unique_ptr<NetnsGuard> guard_;
  std::unique_ptr<Interface> iface_;
};

TEST_F(Mtu9000, An8000ByteDatagramIsEchoedOverIpv4AndIpv6) {
  auto iface = Interface::open(config());
  ASSERT_TRUE(iface.ok()) << iface.error().message();
  iface_ = std::move(iface.value());
  Engine& engine = iface_->engine(0);
  EXPECT_TRUE(engine.multi_buffer());
  for (bool v6 : {false, true}) {
    BindSpec bind;
    bind.local = v6 ? IpAddress::any_v6() : IpAddress::any_v4();
    bind.port = v6 ? 7701 : 7700;
    auto slot = iface_->open_socket(bind, {});
    ASSERT_TRUE(slot.ok()) << slot.error().message();
    UdpPeer client(bench_->client_ns, v6 ? AF_INET6 : AF_INET);
    ASSERT_TRUE(client.ok());
    std::string payload(8000, '\0');
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 23);
    ASSERT_TRUE(client.send_to(v6 ? VethBench::kServer6 : VethBench::kServer4, bind.port, payload));
    Datagram d[4];
    ProcessResult r{};
    const auto deadline = Clock::now() + 3s;
    while (r.delivered == 0 && Clock::now() < deadline) {
      r = engine.process(slot.value(), d);
      if (r.taken == 0) std::this_thread::sleep_for(200us);
    }
    ASSERT_EQ(r.delivered, 1u) << (v6 ? "IPv6" : "IPv4");
    ASSERT_EQ(d[0].view.payload.size(), payload.size());
    EXPECT_EQ(std::string(d[0].view.payload.begin(), d[0].view.payload.end()), payload);
    const IpAddress local = d[0].view.destination.addr;
    Status st = engine.send(slot.value(), d[0].view.source, d[0].view.payload, &local);
    ASSERT_TRUE(st.ok()) << st.error().message();
    // The largest datagram the MTU allows goes too; one byte more is handed back.
    const size_t largest = 9000 - (v6 ? 48 : 28);
    std::vector<uint8_t> big(largest, 0x42);
    st = engine.send(slot.value(), d[0].view.source, big, &local);
    EXPECT_TRUE(st.ok()) << st.error().message();
    big.push_back(0x42);
    st = engine.send(slot.value(), d[0].view.source, big, &local);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, EMSGSIZE) << st.error().message();
    engine.release(d[0]);
    ASSERT_TRUE(engine.flush(slot.value()).ok());
    std::string echo;
    ASSERT_TRUE(client.receive(&echo, 3000)) << "no echo of 8000 bytes";
    EXPECT_EQ(echo, payload);
    ASSERT_TRUE(client.receive(&echo, 3000)) << "no datagram of " << largest << " bytes";
    EXPECT_EQ(echo.size(), largest);
    EXPECT_FALSE(client.receive(&echo, 200)) << "an oversized datagram arrived";
  }
  EXPECT_EQ(engine.large_buffers_held(), 0u);
  std::string why;
  EXPECT_TRUE(engine.frames_accounted(&why)) << why;
}

TEST_F(Mtu9000, WithoutMultiBufferLrpRefusesToStartAndSaysWhatToDo) {
  InterfaceConfig c = config();
  c.engine.multi_buffer = MultiBuffer::Off;
  auto iface = Interface::open(c);
  ASSERT_FALSE(iface.ok()) << "an MTU of 9000 was served without multi-buffer";
  const std::string text = iface.error().message();
  EXPECT_NE(text.find("MTU of 9000"), std::string::npos) << text;       // the MTU
  EXPECT_NE(text.find("MTU 1774 at most"), std::string::npos) << text;  // the limit
  EXPECT_NE(text.find("ip link set dev " + bench_->server_if + " mtu 1774"), std::string::npos)
      << text;  // the remedy
  EXPECT_NE(text.find("multi-buffer"), std::string::npos) << text;
}

TEST_F(Mtu9000, AtAnMtuThatFitsAFrameMultiBufferStaysOff) {
  ASSERT_EQ(
      test::run("ip -n " + bench_->server_ns + " link set " + bench_->server_if + " mtu 1774"), 0);
  InterfaceConfig c = config();
  c.engine.multi_buffer = MultiBuffer::Off;
  auto iface = Interface::open(c);
  ASSERT_TRUE(iface.ok()) << iface.error().message();
  EXPECT_FALSE(iface.value()->engine(0).multi_buffer());
}

}  // namespace
}  // namespace lrp
