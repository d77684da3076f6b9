// Misuse gets a clear error, limits are enforced with a reason, and closing
// gives every frame back.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "bpf/lrp_shared.h"
#include "tests/sockets_api/stack_bench.h"
#include "tests/support/privileges.h"
#include "tests/support/udp_peer.h"

namespace lrp::sockets::test {
namespace {

using lrp::test::UdpPeer;
using lrp::test::VethBench;
using sched::Threading;

TEST(SocketErrors, BindConflictsAndBadAddresses) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, Threading::RunToCompletion, "sk-err"), "");
  auto first = b.stack->open_udp(bind_any(false, 7500));
  ASSERT_TRUE(first.ok()) << first.error().message();
  auto again = b.stack->open_udp(bind_any(false, 7500));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EADDRINUSE);
  EXPECT_NE(again.error().message().find("7500"), std::string::npos);
  // The other family's wildcard is another flow; an address of the
  // interface on the same port is one the kernel refuses without
  // SO_REUSEADDR on both.
  EXPECT_TRUE(b.stack->open_udp(bind_any(true, 7500)).ok());
  BindSpec exact = bind_any(false, 7500);
  exact.local = address(VethBench::kServer4);
  EXPECT_EQ(b.stack->open_udp(exact).error().code, EADDRINUSE);
  SocketConfig shared;
  shared.reuse_address = true;
  auto wild = b.stack->open_udp(bind_any(false, 7503), shared);
  ASSERT_TRUE(wild.ok()) << wild.error().message();
  BindSpec exact_shared = bind_any(false, 7503);
  exact_shared.local = address(VethBench::kServer4);
  EXPECT_TRUE(b.stack->open_udp(exact_shared, shared).ok());
  wild.value().reset();

  BindSpec foreign = bind_any(false, 7501);
  foreign.local = address("198.19.0.1");
  EXPECT_EQ(b.stack->open_udp(foreign).error().code, EADDRNOTAVAIL);
  // Port 0: the kernel chooses one, as for any UDP socket.
  {
    auto any_port = b.stack->open_udp(bind_any(false, 0));
    ASSERT_TRUE(any_port.ok()) << any_port.error().message();
    EXPECT_NE(any_port.value()->local().port, 0);
  }
  BindSpec mixed = bind_any(false, 7502);
  mixed.remote = Endpoint{address(VethBench::kClient6), 9};
  EXPECT_EQ(b.stack->open_udp(mixed).error().code, EAFNOSUPPORT);
  mixed.remote = Endpoint{address(VethBench::kClient4), 0};
  EXPECT_EQ(b.stack->open_udp(mixed).error().code, EINVAL);
  EXPECT_EQ(b.stack->socket_count(), 1u);  // the two temporaries above closed already

  // A failed bind left nothing behind: the port is free again once closed.
  ASSERT_TRUE(first.value()->close().ok());
  EXPECT_TRUE(b.stack->open_udp(bind_any(false, 7500)).ok());
}

TEST(SocketErrors, OneStackPerInterfaceAndProcess) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, Threading::RunToCompletion, "sk-two"), "");
  StackConfig config;
  config.in_process = true;
  config.ifname = b.veth->server_if;
  auto second = Stack::open(config);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, EBUSY);
}

// Without root, opening a stack says what is missing (checked in a child
// that gives up root; the bench itself needs it).
TEST(SocketErrors, WithoutPrivilegesTheErrorSaysSo) {
  LRP_REQUIRE_PRIVILEGES();
  lrp::test::VethBench bench("sk-priv");
  ASSERT_TRUE(bench.ok);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    lrp::test::NetnsGuard guard(bench.server_ns);
    if (!guard.ok() || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
      _exit(100);
    StackConfig config;
    config.in_process = true;
    config.ifname = bench.server_if;
    auto stack = Stack::open(config);
    const std::string message = stack.ok() ? "opened" : stack.error().message();
    (void)!write(pipe_fds[1], message.data(), message.size());
    _exit(stack.ok() ? 101 : stack.error().code);
  }
  close(pipe_fds[1]);
  std::string message;
  char buffer[512];
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0)
    message.append(buffer, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_TRUE(WEXITSTATUS(status) == EPERM || WEXITSTATUS(status) == EACCES)
      << WEXITSTATUS(status) << ": " << message;
  EXPECT_NE(message.find("needs root"), std::string::npos) << message;
}

TEST(SocketErrors, MisuseOfASocket) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, Threading::RunToCompletion, "sk-mis"), "");
  auto socket = b.stack->open_udp(bind_any(false, 7510));
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  EXPECT_EQ(s.send(bytes("x")).error().code, EDESTADDRREQ);
  EXPECT_EQ(s.send_to(Endpoint{address(VethBench::kClient6), 9}, bytes("x")).error().code,
            EAFNOSUPPORT);
  EXPECT_EQ(s.connect(Endpoint{address(VethBench::kClient6), 9}).error().code, EAFNOSUPPORT);
  EXPECT_EQ(s.set_option(Option::ApplicationWeight, 5).error().code, EBUSY);
  EXPECT_TRUE(s.set_option(Option::ApplicationWeight, 1).ok());  // unchanged is fine
  EXPECT_EQ(s.option(Option::ReceiveQueueBound).value(), 1024);
  ASSERT_TRUE(s.close().ok());
  Datagram d[1];
  EXPECT_EQ(s.receive(d, 0).error().code, EBADF);
  EXPECT_EQ(s.send_to(Endpoint{address(VethBench::kClient4), 9}, bytes("x")).error().code, EBADF);
  EXPECT_EQ(s.close().error().code, EBADF);
}

// Each socket with its own application: the scheduler's limit is the limit.
TEST(SocketErrors, TooManySocketsSaySo) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, Threading::RunToCompletion, "sk-many"), "");
  std::vector<std::unique_ptr<UdpSocket>> sockets;
  for (uint16_t i = 0; i < sched::kMaxApps; ++i) {
    auto s = b.stack->open_udp(bind_any(false, static_cast<uint16_t>(7600 + i)));
    ASSERT_TRUE(s.ok()) << i << ": " << s.error().message();
    sockets.push_back(std::move(s.value()));
  }
  auto over = b.stack->open_udp(bind_any(false, 7600 + sched::kMaxApps));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, EMFILE);
  EXPECT_NE(over.error().message().find("application"), std::string::npos);
  sockets.clear();

  // Sockets sharing one application: the engine's socket slots are the limit.
  auto app = b.stack->create_application({.name = "many"});
  ASSERT_TRUE(app.ok()) << app.error().message();
  for (uint16_t i = 0; i < LRP_MAX_SLOTS; ++i) {
    auto s = app.value()->open_udp(bind_any(false, static_cast<uint16_t>(7600 + i)));
    ASSERT_TRUE(s.ok()) << i << ": " << s.error().message();
    sockets.push_back(std::move(s.value()));
  }
  auto full = app.value()->open_udp(bind_any(false, 7600 + LRP_MAX_SLOTS));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, EMFILE);
  EXPECT_EQ(b.stack->socket_count(), static_cast<size_t>(LRP_MAX_SLOTS));
}

class SocketClose : public ::testing::TestWithParam<Threading> {};

TEST_P(SocketClose, ClosingWhileHoldingFramesReturnsThem) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-close"), "");
  auto socket = b.stack->open_udp(bind_any(false, 7520));
  ASSERT_TRUE(socket.ok()) << socket.error().message();
  UdpSocket& s = *socket.value();
  UdpPeer peer(b.veth->client_ns, AF_INET);
  ASSERT_EQ(peer.send_many(VethBench::kServer4, 7520, 30, 64), 30u);
  Datagram d[8];
  size_t held = 0;
  for (int i = 0; i < 50 && held == 0; ++i) {
    auto n = s.receive(d, 100);
    ASSERT_TRUE(n.ok());
    held = n.value();
  }
  ASSERT_GT(held, 0u);
  // Some more wait in the cache, the queue or the ring, untouched.
  uint8_t buffer[64];
  ASSERT_TRUE(s.receive_copy(buffer, 1000).ok());
  FramePool& pool = b.runtime().engine(0).frames();
  const SlotId slot = s.slot();
  EXPECT_GE(pool.held_by(slot), held);
  ASSERT_TRUE(s.close().ok());
  EXPECT_EQ(pool.held_by(slot), 0u);
  s.done(std::span<const Datagram>(d, held));  // ignored after close
  std::string why;
  EXPECT_TRUE(b.runtime().engine(0).frames_accounted(&why)) << why;
  EXPECT_EQ(b.stack->socket_count(), 0u);
}

// Sockets that share an application receive through it, each datagram
// naming its socket; the sockets themselves refuse to receive.
TEST_P(SocketClose, SharedApplicationReceivesForItsSockets) {
  LRP_REQUIRE_PRIVILEGES();
  StackBench b;
  ASSERT_EQ(open_stack(b, GetParam(), "sk-app"), "");
  auto app = b.stack->create_application({.name = "pair", .weight = 2, .queue_bound = 128});
  ASSERT_TRUE(app.ok()) << app.error().message();
  Application& a = *app.value();
  auto one = a.open_udp(bind_any(false, 7530));
  auto two = a.open_udp(bind_any(false, 7531));
  ASSERT_TRUE(one.ok() && two.ok());
  Datagram d[8];
  EXPECT_EQ(one.value()->receive(d, 0).error().code, EINVAL);
  UdpPeer peer(b.veth->client_ns, AF_INET);
  ASSERT_EQ(peer.send_many(VethBench::kServer4, 7530, 5, 8), 5u);
  ASSERT_EQ(peer.send_many(VethBench::kServer4, 7531, 5, 8), 5u);
  size_t to_one = 0, to_two = 0;
  for (int i = 0; i < 50 && to_one + to_two < 10; ++i) {
    auto n = a.receive(d, 100);
    ASSERT_TRUE(n.ok());
    for (size_t k = 0; k < n.value(); ++k) {
      if (d[k].slot == one.value()->slot()) ++to_one;
      if (d[k].slot == two.value()->slot()) ++to_two;
    }
    a.done(std::span<const Datagram>(d, n.value()));
  }
  EXPECT_EQ(to_one, 5u);
  EXPECT_EQ(to_two, 5u);

  // Closing one socket drops what it had queued, keeps the other's.
  ASSERT_EQ(peer.send_many(VethBench::kServer4, 7530, 5, 8), 5u);
  ASSERT_EQ(peer.send_many(VethBench::kServer4, 7531, 5, 8), 5u);
  usleep(100000);
  const SlotId closed = one.value()->slot();
  ASSERT_TRUE(one.value()->close().ok());
  to_two = 0;
  for (int i = 0; i < 20 && to_two < 5; ++i) {
    auto n = a.receive(d, 100);
    ASSERT_TRUE(n.ok());
    for (size_t k = 0; k < n.value(); ++k) {
      EXPECT_NE(d[k].slot, closed);
      if (d[k].slot == two.value()->slot()) ++to_two;
    }
    a.done(std::span<const Datagram>(d, n.value()));
  }
  EXPECT_EQ(to_two, 5u);
  std::string why;
  EXPECT_TRUE(b.runtime().engine(0).frames_accounted(&why)) << why;
}

INSTANTIATE_TEST_SUITE_P(All, SocketClose,
                         ::testing::Values(Threading::RunToCompletion, Threading::Dedicated),
                         [](const ::testing::TestParamInfo<Threading>& info) {
                           return std::string(sched::to_string(info.param));
                         });

}  // namespace
}  // namespace lrp::sockets::test
