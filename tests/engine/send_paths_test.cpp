// Where a send cannot go through lrp, the engine says so with a distinct
// error instead of emitting a frame: EXDEV for destinations that are this
// host or lie behind another interface, EMSGSIZE above the path MTU; and
// batches leave as one call with one kick.
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

Endpoint at(const char* address, uint16_t port) {
  return Endpoint{*IpAddress::parse(address), port};
}

class SendPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    LRP_REQUIRE_PRIVILEGES();
    bench_ = std::make_unique<VethBench>("snd");
    ASSERT_TRUE(bench_->ok) << "could not build the veth bench";
    guard_ = std::make_unique<NetnsGuard>(bench_->server_ns);
    ASSERT_TRUE(guard_->ok());
    InterfaceConfig config;
    config.ifname = bench_->server_if;
    auto iface = Interface::open(config);
    ASSERT_TRUE(iface.ok()) << iface.error().message();
    iface_ = std::move(iface.value());
    engine_ = &iface_->engine(0);
    BindSpec bind;
    bind.port = 7300;
    auto slot = iface_->open_socket(bind, {});
    ASSERT_TRUE(slot.ok()) << slot.error().message();
    slot_ = slot.value();
    bind.local = IpAddress::any_v6();
    auto slot6 = iface_->open_socket(bind, {});
    ASSERT_TRUE(slot6.ok()) << slot6.error().message();
    slot6_ = slot6.value();
  }
  void TearDown() override {
    iface_.reset();
    guard_.reset();
    bench_.reset();
  }
  int server(const std::string& ip_arguments) {
    return test::run("ip -n " + bench_->server_ns + " " + ip_arguments);
  }
  Status send(SlotId slot, const Endpoint& to, size_t size) {
    std::vector<uint8_t> payload(size, 'x');
    Status st = engine_->send(slot, to, payload);
    (void)engine_->flush(slot);
    return st;
  }

  std::unique_ptr<VethBench> bench_;
  std::unique_ptr<NetnsGuard> guard_;
  std::unique_ptr<Interface> iface_;
  Engine* engine_ = nullptr;
  SlotId slot_ = 0, slot6_ = 0;
};

TEST_F(SendPaths, OwnAddressesAreTheKernelsToDeliver) {
  for (auto [slot, to] :
       {std::pair{slot_, at(VethBench::kServer4, 9)}, std::pair{slot_, at("127.0.0.1", 9)},
        std::pair{slot6_, at(VethBench::kServer6, 9)}}) {
    Status st = send(slot, to, 10);
    ASSERT_FALSE(st.ok()) << to.to_string();
    EXPECT_EQ(st.error().code, EXDEV) << st.error().message();
    EXPECT_NE(st.error().message().find("address of this host"), std::string::npos)
        << st.error().message();
  }
  EXPECT_EQ(engine_->counters(slot_).sent.load(), 0u);
  EXPECT_EQ(engine_->counters(slot6_).sent.load(), 0u);
  EXPECT_EQ(engine_->frames().counts().at(FramePlace::KernelTx), 0u);
}

TEST_F(SendPaths, RoutesThroughAnotherInterfaceAreTheKernelsToSend) {
  // Another interface in the server's namespace (a veth pair of its own).
  ASSERT_EQ(server("link add lrpo0 type veth peer name lrpo1"), 0);
  ASSERT_EQ(server("link set lrpo0 up"), 0);
  ASSERT_EQ(server("link set lrpo1 up"), 0);
  ASSERT_EQ(server("addr add 198.19.7.1/24 dev lrpo0"), 0);
  ASSERT_EQ(server("-6 addr add 2001:2:0:7::1/64 dev lrpo0 nodad"), 0);
  Status st = send(slot_, at("198.19.7.9", 9), 10);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, EXDEV) << st.error().message();
  EXPECT_NE(st.error().message().find("not through this interface"), std::string::npos)
      << st.error().message();
  st = send(slot6_, at("2001:2:0:7::9", 9), 10);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, EXDEV) << st.error().message();
  EXPECT_EQ(engine_->counters(slot_).sent.load(), 0u);
  EXPECT_EQ(engine_->frames().counts().at(FramePlace::KernelTx), 0u);
}

TEST_F(SendPaths, NoRouteIsTheKernelsOwnAnswer) {
  Status st = send(slot_, at("198.19.200.1", 9), 10);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ENETUNREACH) << st.error().message();
  ASSERT_EQ(server("route add unreachable 198.19.201.0/24"), 0);
  st = send(slot_, at("198.19.201.1", 9), 10);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, EHOSTUNREACH) << st.error().message();
}

TEST_F(SendPaths, AboveThePathMtuIsHandedBackNeverEmitted) {
  UdpPeer client(bench_->client_ns, AF_INET, 7301);
  ASSERT_TRUE(client.ok());
  // The interface's MTU is 1500: 1472 bytes of payload is the most.
  ASSERT_TRUE(send(slot_, at(VethBench::kClient4, 7301), 1472).ok());
  std::string got;
  ASSERT_TRUE(client.receive(&got, 2000));
  EXPECT_EQ(got.size(), 1472u);
  Status st = send(slot_, at(VethBench::kClient4, 7301), 1473);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, EMSGSIZE) << st.error().message();
  EXPECT_NE(st.error().message().find("path MTU of 1500"), std::string::npos)
      << st.error().message();
  // A route with its own MTU (a tunnel behind the peer, say) is respected.
  ASSERT_EQ(
      server("route add 198.19.50.0/24 via " + std::string(VethBench::kClient4) + " mtu 1200"), 0);
  st = send(slot_, at("198.19.50.5", 7301), 1200 - 28 + 1);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, EMSGSIZE) << st.error().message();
  EXPECT_TRUE(send(slot_, at("198.19.50.5", 7301), 1200 - 28).ok());
  // IPv6: 40 bytes of IP header.
  st = send(slot6_, at(VethBench::kClient6, 7301), 1500 - 48 + 1);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, EMSGSIZE) << st.error().message();
  EXPECT_FALSE(client.receive(&got, 200)) << "an oversized datagram arrived";
}

TEST_F(SendPaths, ABatchIsOneCallAndStopsAtTheFirstRefusal) {
  UdpPeer client(bench_->client_ns, AF_INET, 7302);
  ASSERT_TRUE(client.ok());
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i) texts.push_back("batch-" + std::to_string(i));
  std::vector<OutDatagram> batch;
  for (const auto& t : texts)
    batch.push_back(OutDatagram{at(VethBench::kClient4, 7302),
                                {reinterpret_cast<const uint8_t*>(t.data()), t.size()},
                                std::nullopt});
  // The 31st goes to this host: the first 30 are taken, the refusal comes next time.
  batch[30].to = at(VethBench::kServer4, 7302);
  auto r = engine_->send_batch(slot_, batch);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r.value(), 30u);
  auto rest = engine_->send_batch(slot_, std::span(batch).subspan(30));
  ASSERT_FALSE(rest.ok());
  EXPECT_EQ(rest.error().code, EXDEV);
  rest = engine_->send_batch(slot_, std::span(batch).subspan(31));
  ASSERT_TRUE(rest.ok()) << rest.error().message();
  EXPECT_EQ(rest.value(), 9u);
  std::vector<std::string> got;
  std::string text;
  while (got.size() < 39 && client.receive(&text, 2000)) got.push_back(text);
  ASSERT_EQ(got.size(), 39u);
  for (size_t i = 0; i < 39; ++i) EXPECT_EQ(got[i], texts[i < 30 ? i : i + 1]);
  EXPECT_EQ(engine_->counters(slot_).sent.load(), 39u);
  std::string why;
  EXPECT_TRUE(engine_->frames_accounted(&why)) << why;
}

}  // namespace
}  // namespace lrp
