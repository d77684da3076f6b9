// lrpd's control plane over a fake backend: sessions, applications, the
// checks on passed kernel sockets, joining by inode and by secret, transmit
// checks, reclaiming a dead client, queries, and the client library's
// fork and reconnect behaviour. No privileges needed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "service/client/client.h"
#include "service/wire/channel.h"
#include "tests/service/daemon_harness.h"

namespace lrp::service::test {
namespace {

// A kernel UDP socket bound to addr:0 (the kernel picks the port).
UniqueFd udp_socket(const char* addr, int family = AF_INET, bool reuseport = false) {
  UniqueFd fd(socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (reuseport) {
    const int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  }
  sockaddr_storage ss{};
  auto ip = IpAddress::parse(addr).value();
  socklen_t len = ip.to_sockaddr(0, &ss);
  if (family == AF_INET6 && ip.is_v4()) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    *s6 = sockaddr_in6{};
    s6->sin6_family = AF_INET6;
    s6->sin6_addr = ip.to_v6();
    len = sizeof(*s6);
  }
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0) << strerror(errno);
  return fd;
}

uint16_t port_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return Endpoint::from_sockaddr(ss).value().port;
}

ClientConfig client_config(const FakeDaemon& d, bool reconnect = false) {
  ClientConfig c;
  c.socket_path = d.path;
  c.name = "test";
  c.reconnect = reconnect;
  c.reconnect_interval_ms = 50;
  return c;
}

// A raw control connection, for what the client library never sends.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    fd_.reset(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  template <class T>
  Message call(MsgType type, const T& body, std::span<const int> fds = {}) {
    EXPECT_TRUE(send_message(fd_.get(), type, ++seq_, body, fds).ok());
    return next();
  }
  Message call_empty(MsgType type) {
    EXPECT_TRUE(send_message(fd_.get(), type, ++seq_, nullptr, 0).ok());
    return next();
  }
  Message next() {
    auto m = receive_message(fd_.get());
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message());
    return m.ok() ? std::move(m.value()) : Message{};
  }
  HelloReply hello() {
    HelloRequest h{};
    put_name(h.name, sizeof(h.name), "raw");
    Message m = call(MsgType::Hello, h);
    HelloReply r{};
    EXPECT_TRUE(m.read(&r));
    return r;
  }
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  uint32_t seq_ = 0;
};

// In a forked child: a client with one application and one socket bound to
// 127.0.0.1, handed to `then`; the child ends with 0 after it, or with 1-3
// when attaching failed.
[[noreturn]] void attach_in_child(const FakeDaemon& d,
                                  const std::function<void(ServiceSocket&)>& then) {
  auto client = ServiceClient::connect(client_config(d));
  if (!client) _exit(1);
  auto app = client.value()->create_app();
  if (!app) _exit(2);
  UniqueFd fd = udp_socket("127.0.0.1");
  auto k = app.value()->bind(fd.get());
  if (!k) _exit(3);
  then(*k.value());
  _exit(0);  // no close, no destructor: the process is simply gone
}

int error_code(const Message& m) {
  ErrorReply e{};
  if (m.type != MsgType::Error || !m.read(&e)) return 0;
  return e.error;
}

TEST(ControlPlane, HelloComesFirstAndOnce) {
  FakeDaemon d(unique_socket_path("hello"));
  ASSERT_TRUE(d.ok());
  RawConnection raw(d.path);
  EXPECT_EQ(error_code(raw.call(MsgType::CreateApp, CreateAppRequest{})), EPROTO);
  const HelloReply r = raw.hello();
  EXPECT_NE(r.session_id, 0u);
  EXPECT_EQ(r.max_payload, 1472u);
  EXPECT_EQ(r.interfaces, 1u);
  HelloRequest again{};
  EXPECT_EQ(error_code(raw.call(MsgType::Hello, again)), EPROTO);
}

TEST(ControlPlane, AnotherProtocolVersionIsRefusedWithAReason) {
  FakeDaemon d(unique_socket_path("version"));
  RawConnection raw(d.path);
  MsgHeader h{kWireMagic, kWireVersion + 1, static_cast<uint16_t>(MsgType::Hello),
              sizeof(MsgHeader), 1};
  ASSERT_EQ(send(raw.fd(), &h, sizeof(h), 0), ssize_t(sizeof(h)));
  Message m = raw.next();
  EXPECT_EQ(error_code(m), EPROTO);
  // Then lrpd hangs up.
  EXPECT_FALSE(receive_message(raw.fd()).ok());
}

TEST(ControlPlane, NoDaemonIsExplained) {
  ClientConfig c;
  c.socket_path = unique_socket_path("absent");
  auto client = ServiceClient::connect(c);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, ENOENT);
  EXPECT_NE(client.error().context.find("lrpd --iface"), std::string::npos);
}

TEST(ControlPlane, ApplicationGetsARegionAndABackendApplication) {
  FakeDaemon d(unique_socket_path("app"));
  auto client = ServiceClient::connect(client_config(d)).value();
  auto app = client->create_app({.name = "web", .weight = 3, .queue_bound = 100});
  ASSERT_TRUE(app.ok()) << app.error().message();
  EXPECT_NE(app.value()->id(), 0u);
  ASSERT_EQ(d.backend.app_count(), 1u);
  auto rec = d.backend.app(1);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->spec.name, "web");
  EXPECT_EQ(rec->spec.weight, 3u);
  EXPECT_EQ(rec->spec.queue_bound, 100u);
  EXPECT_EQ(rec->spec.pid, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(rec->spec.uid, getuid());
  // Dropping the application lets go of it in lrpd.
  app.value().reset();
  EXPECT_TRUE(eventually([&] { return d.backend.app_count() == 0; }));
}

TEST(ControlPlane, BindChecksTheKernelSocket) {
  FakeDaemon d(unique_socket_path("checks"));
  auto client = ServiceClient::connect(client_config(d)).value();
  auto app = client->create_app().value();

  UniqueFd tcp(socket(AF_INET, SOCK_STREAM, 0));
  auto r = app->bind(tcp.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EPROTOTYPE);

  UniqueFd unbound(socket(AF_INET, SOCK_DGRAM, 0));
  r = app->bind(unbound.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EINVAL);

  UniqueFd elsewhere = udp_socket("127.0.0.2");  // on lo, not served
  r = app->bind(elsewhere.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EADDRNOTAVAIL);

  UniqueFd good = udp_socket("127.0.0.1");
  auto k = app->bind(good.get());
  ASSERT_TRUE(k.ok()) << k.error().message();
  EXPECT_TRUE(k.value()->attached());
  auto socks = d.backend.sockets();
  ASSERT_EQ(socks.size(), 1u);
  EXPECT_EQ(socks[0].spec.bind.port, port_of(good.get()));
  EXPECT_EQ(socks[0].spec.bind.local, IpAddress::parse("127.0.0.1").value());
  EXPECT_FALSE(socks[0].spec.bind.remote.has_value());
  EXPECT_EQ(d.plane->socket_count(), 1u);
  // Closing hands the flow back.
  EXPECT_TRUE(k.value()->close().ok());
  EXPECT_EQ(d.backend.socket_count(), 0u);
  EXPECT_EQ(d.plane->socket_count(), 0u);
}

TEST(ControlPlane, DualStackWildcardServesBothFamilies) {
  FakeDaemon d(unique_socket_path("dual"));
  auto client = ServiceClient::connect(client_config(d)).value();
  auto app = client->create_app().value();
  UniqueFd fd = udp_socket("::", AF_INET6, /*reuseport=*/true);
  int off = 0;
  setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  auto k = app->bind(fd.get());
  ASSERT_TRUE(k.ok()) << k.error().message();
  auto socks = d.backend.sockets();
  ASSERT_EQ(socks.size(), 2u);
  int v4 = 0, v6 = 0;
  for (const auto& s : socks) {
    EXPECT_TRUE(s.spec.reuseport);
    EXPECT_TRUE(s.spec.bind.local.is_any());
    (s.spec.bind.local.is_v4() ? v4 : v6)++;
  }
  EXPECT_EQ(v4, 1);
  EXPECT_EQ(v6, 1);
}

TEST(ControlPlane, TheSameKernelSocketJoinsTheExistingSocket) {
  FakeDaemon d(unique_socket_path("inode"));
  auto first = ServiceClient::connect(client_config(d)).value();
  auto second = ServiceClient::connect(client_config(d)).value();
  auto app1 = first->create_app().value();
  auto app2 = second->create_app().value();
  UniqueFd fd = udp_socket("127.0.0.1");
  ASSERT_TRUE(fd.valid());
  auto k1 = app1->bind(fd.get());
  ASSERT_TRUE(k1.ok()) << k1.error().message();
  auto k2 = app2->bind(fd.get());  // e.g. the fd was passed to another process
  ASSERT_TRUE(k2.ok()) << k2.error().message();
  EXPECT_EQ(d.backend.socket_count(), 1u);
  EXPECT_EQ(d.plane->socket_count(), 1u);
  // The second binder now receives in the socket's application.
  EXPECT_EQ(app2->id(), app1->id());
  // The first lets go: the socket stays for the second.
  ASSERT_TRUE(k1.value()->close().ok());
  EXPECT_EQ(d.backend.socket_count(), 1u);
  ASSERT_TRUE(k2.value()->close().ok());
  EXPECT_EQ(d.backend.socket_count(), 0u);
}

TEST(ControlPlane, JoiningByIdNeedsTheSecret) {
  FakeDaemon d(unique_socket_path("secret"));
  RawConnection owner(d.path);
  owner.hello();
  Message grant = owner.call(MsgType::CreateApp, CreateAppRequest{});
  AppGrant g{};
  ASSERT_TRUE(grant.read(&g));
  ASSERT_EQ(grant.fds.size(), 2u);

  RawConnection other(d.path);
  other.hello();
  EXPECT_EQ(error_code(other.call(MsgType::JoinApp, JoinAppRequest{g.app_id, 0, g.secret + 1})),
            ENOENT);
  Message joined = other.call(MsgType::JoinApp, JoinAppRequest{g.app_id, 0, g.secret});
  ASSERT_EQ(joined.type, MsgType::AppGrantReply);
  EXPECT_EQ(joined.fds.size(), 2u);
  // Not held by this connection: no options, no binds.
  RawConnection third(d.path);
  third.hello();
  SetOptionRequest opt{g.app_id, static_cast<uint16_t>(OptionName::AppWeight), 0, 2};
  EXPECT_EQ(error_code(third.call(MsgType::SetOption, opt)), EPERM);
  UniqueFd fd = udp_socket("127.0.0.1");
  const int fds[1] = {fd.get()};
  EXPECT_EQ(error_code(third.call(MsgType::Bind, BindRequest{g.app_id, 0}, fds)), EPERM);
  // The creator leaves; the joiner keeps the application alive.
  EXPECT_EQ(d.backend.app_count(), 1u);
}

TEST(ControlPlane, DeliveredDatagramsReachTheRing) {
  FakeDaemon d(unique_socket_path("rx"));
  auto client = ServiceClient::connect(client_config(d)).value();
  auto app = client->create_app().value();
  UniqueFd fd = udp_socket("127.0.0.1");
  auto k = app->bind(fd.get()).value();
  const uint32_t tag = d.backend.sockets()[0].spec.tag;
  const Endpoint from{IpAddress::parse("198.18.0.2").value(), 4000};
  const Endpoint to{IpAddress::parse("127.0.0.1").value(), port_of(fd.get())};
  const std::string text = "hello over shared memory";
  ASSERT_TRUE(d.backend.deliver(tag, from, to,
                                {reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
  RxDatagram batch[4];
  auto n = app->receive(batch, 1000);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(n.value(), 1u);
  EXPECT_EQ(std::string(batch[0].payload.begin(), batch[0].payload.end()), text);
  EXPECT_EQ(batch[0].source, from);
  EXPECT_EQ(batch[0].destination, to);
  EXPECT_EQ(batch[0].socket, k->handle());
  EXPECT_EQ(batch[0].ttl, 64);
  EXPECT_EQ(app->rx_depth(), 1u);  // held until done
  app->done(std::span(batch, 1));
  EXPECT_EQ(app->rx_depth(), 0u);

  // Handed back by token, after the RxDatagram itself is gone.
  ASSERT_TRUE(d.backend.deliver(tag, from, to,
                                {reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
  uint64_t token = 0;
  {
    RxDatagram one[1];
    ASSERT_EQ(app->receive(one, 1000).value(), 1u);
    token = one[0].token();
  }
  EXPECT_NE(token, 0u);
  EXPECT_EQ(app->rx_depth(), 1u);
  app->done_token(token);
  EXPECT_EQ(app->rx_depth(), 0u);

  // The copying receive, with truncation.
  ASSERT_TRUE(d.backend.deliver(tag, from, to,
                                {reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
  uint8_t small[5];
  auto info = app->receive_copy(small, 1000);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 5u);
  EXPECT_EQ(info->datagram_size, text.size());
  EXPECT_TRUE(info->truncated);
  EXPECT_EQ(std::memcmp(small, "hello", 5), 0);
  // Nothing more: EAGAIN after the timeout.
  auto none = app->receive_copy(small, 20);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, EAGAIN);
}

TEST(ControlPlane, TheQueueBoundLimitsRoom) {
  FakeDaemon d(unique_socket_path("bound"));
  auto client = ServiceClient::connect(client_config(d)).value();
  auto app = client->create_app({.queue_bound = 4}).value();
  UniqueFd fd = udp_socket("127.0.0.1");
  auto k = app->bind(fd.get()).value();
  const uint32_t tag = d.backend.sockets()[0].spec.tag;
  const Endpoint from{IpAddress::parse("198.18.0.2").value(), 4000};
  const Endpoint to{IpAddress::parse("127.0.0.1").value(), port_of(fd.get())};
  const uint8_t byte = 1;
  int taken = 0;
  for (int i = 0; i < 10; ++i) taken += d.backend.deliver(tag, from, to, {&byte, 1});
  EXPECT_EQ(taken, 4);
  ASSERT_TRUE(app->set_queue_bound(6).ok());
  for (int i = 0; i < 10; ++i) taken += d.backend.deliver(tag, from, to, {&byte, 1});
  EXPECT_EQ(taken, 6);
  auto bad = app->set_queue_bound(0);
  EXPECT_FALSE(bad.ok());
}

TEST(ControlPlane, TransmitGoesThroughTheRingAndIsChecked) {
  FakeDaemon d(unique_socket_path("tx"));
  auto client = ServiceClient::connect(client_config(d)).value();
  auto app = client->create_app().value();
  UniqueFd fd = udp_socket("0.0.0.0");
  auto k = app->bind(fd.get()).value();
  const Endpoint peer{IpAddress::parse("198.18.0.2").value(), 5000};
  const std::string text = "reply";
  const std::span<const uint8_t> payload(reinterpret_cast<const uint8_t*>(text.data()),
                                         text.size());
  ASSERT_TRUE(k->send_to(peer, payload).ok());
  const IpAddress local = IpAddress::parse("198.18.0.1").value();
  ASSERT_TRUE(k->send_to(peer, payload, &local).ok());
  const IpAddress foreign = IpAddress::parse("198.18.0.77").value();
  ASSERT_TRUE(k->send_to(peer, payload, &foreign).ok());  // queued; lrpd refuses it
  EXPECT_EQ(d.backend.drain_all(), 3u);
  auto sent = d.backend.sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].to, peer);
  EXPECT_EQ(std::string(sent[0].payload.begin(), sent[0].payload.end()), text);
  EXPECT_FALSE(sent[0].from.has_value());
  ASSERT_TRUE(sent[1].from.has_value());
  EXPECT_EQ(*sent[1].from, local);
  EXPECT_EQ(app->tx_rejected(), 0u);  // mirrored at the next heartbeat
  EXPECT_TRUE(eventually([&] { return app->tx_rejected() == 1; }));

  // Too large for a slot.
  std::vector<uint8_t> big(2000);
  EXPECT_EQ(k->send_to(peer, big).error().code, EMSGSIZE);
}

TEST(ControlPlane, QueriesDescribeEverything) {
  FakeDaemon d(unique_socket_path("query"));
  auto client = ServiceClient::connect(client_config(d)).value();
  auto app = client->create_app({.name = "dns", .weight = 5}).value();
  UniqueFd fd = udp_socket("127.0.0.1");
  auto k = app->bind(fd.get()).value();

  auto status = client->query(MsgType::QueryStatus);
  ASSERT_TRUE(status.ok()) << status.error().message();
  ASSERT_EQ(status->size(), 2u);  // the daemon, one engine
  DaemonStatus ds{};
  ASSERT_TRUE((*status)[0].read(&ds));
  EXPECT_EQ(ds.apps, 1u);
  EXPECT_EQ(ds.sockets, 1u);
  EXPECT_EQ(ds.sessions, 1u);
  EngineStatus es{};
  ASSERT_TRUE((*status)[1].read(&es));
  EXPECT_STREQ(es.ifname, "fake0");

  auto apps = client->query(MsgType::QueryApps);
  ASSERT_TRUE(apps.ok());
  ASSERT_EQ(apps->size(), 1u);
  AppStatus as{};
  ASSERT_TRUE((*apps)[0].read(&as));
  EXPECT_EQ(get_name(as.name, sizeof(as.name)), "dns");
  EXPECT_EQ(as.weight, 5u);
  EXPECT_EQ(as.pid, static_cast<uint32_t>(getpid()));
  EXPECT_EQ(as.sockets, 1u);

  auto socks = client->query(MsgType::QuerySockets);
  ASSERT_TRUE(socks.ok());
  ASSERT_EQ(socks->size(), 1u);
  SocketStatus ss{};
  ASSERT_TRUE((*socks)[0].read(&ss));
  EXPECT_EQ(ss.local_port, port_of(fd.get()));
  EXPECT_EQ(ss.refs, 1u);
  EXPECT_EQ(ss.family, 4);
}

TEST(ControlPlane, WeightsAndGroups) {
  FakeDaemon d(unique_socket_path("opts"));
  auto client = ServiceClient::connect(client_config(d)).value();
  auto app = client->create_app().value();
  UniqueFd fd = udp_socket("0.0.0.0");
  auto k = app->bind(fd.get()).value();
  ASSERT_TRUE(app->set_weight(7).ok());
  EXPECT_EQ(d.backend.app(1)->spec.weight, 7u);
  EXPECT_EQ(app->set_weight(0).error().code, EINVAL);

  const IpAddress group = IpAddress::parse("239.1.2.3").value();
  ASSERT_TRUE(k->join_group(group).ok());
  EXPECT_EQ(d.backend.group_refs(0, group), 1);
  EXPECT_FALSE(k->join_group(IpAddress::parse("198.18.0.9").value()).ok());  // not multicast
  ASSERT_TRUE(k->leave_group(group).ok());
  EXPECT_EQ(d.backend.group_refs(0, group), 0);
  ASSERT_TRUE(k->join_group(group).ok());
  // Closing the socket leaves its groups.
  ASSERT_TRUE(k->close().ok());
  EXPECT_EQ(d.backend.group_refs(0, group), 0);
}

TEST(ControlPlane, ConnectSwitchesToTheExactFlow) {
  FakeDaemon d(unique_socket_path("connect"));
  auto client = ServiceClient::connect(client_config(d)).value();
  auto app = client->create_app().value();
  UniqueFd fd = udp_socket("127.0.0.1");
  auto k = app->bind(fd.get()).value();
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(9999);
  peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&peer), sizeof(peer)), 0);
  ASSERT_TRUE(k->connect().ok());
  auto socks = d.backend.sockets();
  ASSERT_EQ(socks.size(), 1u);
  ASSERT_TRUE(socks[0].spec.bind.remote.has_value());
  EXPECT_EQ(socks[0].spec.bind.remote->port, 9999);
  ASSERT_TRUE(k->remote().has_value());
  EXPECT_EQ(k->remote()->port, 9999);
}

// A client killed while it holds an application and sockets: lrpd takes
// everything back when its connection ends.
TEST(ControlPlane, AKilledClientIsReclaimedAtOnce) {
  FakeDaemon d(unique_socket_path("kill"));
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    attach_in_child(d, [&](ServiceSocket&) {
      (void)!write(ready[1], "x", 1);
      pause();
    });
  }
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  EXPECT_EQ(d.backend.app_count(), 1u);
  EXPECT_EQ(d.backend.socket_count(), 1u);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_TRUE(eventually([&] { return d.backend.app_count() == 0; }, 1000));
  EXPECT_EQ(d.backend.socket_count(), 0u);
  EXPECT_EQ(d.plane->session_count(), 0u);
  EXPECT_EQ(d.plane->app_count(), 0u);
}

// A program that sends and exits at once (a kernel socket's datagram is on
// its way when sendto returns): what it queued goes out before its socket
// and application are removed, whether or not an engine took it yet.
TEST(ControlPlane, WhatAClientSentBeforeItExitedGoesOut) {
  FakeDaemon d(unique_socket_path("last"));
  constexpr int kSent = 5;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    attach_in_child(d, [](ServiceSocket& k) {
      const Endpoint peer{IpAddress::parse("198.18.0.2").value(), 5000};
      const uint8_t byte = 7;
      for (int i = 0; i < kSent; ++i)
        if (!k.send_to(peer, std::span<const uint8_t>(&byte, 1)).ok()) _exit(4);
    });
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(eventually([&] { return d.backend.app_count() == 0; }, 1000));
  EXPECT_EQ(d.backend.sent().size(), static_cast<size_t>(kSent));
}

// Bind in the parent, receive in a forked child: the child attaches with a
// connection of its own and joins the application; each datagram goes to
// exactly one of them.
TEST(ControlPlane, AForkedChildServesTheInheritedSocket) {
  FakeDaemon d(unique_socket_path("fork"));
  auto client = ServiceClient::connect(client_config(d)).value();
  auto app = client->create_app().value();
  UniqueFd fd = udp_socket("127.0.0.1");
  auto k = app->bind(fd.get()).value();
  const uint32_t tag = d.backend.sockets()[0].spec.tag;
  int report[2];
  ASSERT_EQ(pipe(report), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(report[0]);
    uint32_t got = 0;
    uint8_t buf[64];
    for (int i = 0; i < 200; ++i) {
      auto info = app->receive_copy(buf, 20);
      if (info.ok()) ++got;
      if (got == 50) break;
    }
    // Replies go through the shared TX ring.
    const Endpoint peer{IpAddress::parse("198.18.0.2").value(), 7};
    (void)k->send_to(peer, std::span<const uint8_t>(buf, 1));
    (void)!write(report[1], &got, sizeof(got));
    _exit(0);
  }
  close(report[1]);
  // The child has its own session once it has attached.
  ASSERT_TRUE(eventually([&] { return d.plane->session_count() == 2; }));
  const Endpoint from{IpAddress::parse("198.18.0.2").value(), 4000};
  const Endpoint to{IpAddress::parse("127.0.0.1").value(), port_of(fd.get())};
  for (uint8_t i = 0; i < 50; ++i) ASSERT_TRUE(d.backend.deliver(tag, from, to, {&i, 1}));
  uint32_t got = 0;
  ASSERT_EQ(read(report[0], &got, sizeof(got)), ssize_t(sizeof(got)));
  close(report[0]);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(got, 50u);
  EXPECT_EQ(d.backend.drain_all(), 1u);
  EXPECT_EQ(d.backend.sent().size(), 1u);
  // The child's session ended; the parent still holds everything.
  EXPECT_TRUE(eventually([&] { return d.plane->session_count() == 1; }));
  EXPECT_EQ(d.backend.socket_count(), 1u);
}

// lrpd goes away: the client says so at once (sends answer ENOTCONN, so the
// caller uses its kernel socket), and re-attaches by itself when lrpd is
// back.
TEST(ControlPlane, TheClientFallsBackAndReattaches) {
  FakeDaemon d(unique_socket_path("restart"));
  auto client = ServiceClient::connect(client_config(d, /*reconnect=*/true)).value();
  auto app = client->create_app({.name = "survivor", .weight = 4}).value();
  UniqueFd fd = udp_socket("127.0.0.1");
  auto k = app->bind(fd.get()).value();
  ASSERT_TRUE(k->attached());
  d.kill();
  ASSERT_TRUE(eventually([&] { return !client->up(); }, 1000));
  EXPECT_FALSE(k->attached());
  const Endpoint server{IpAddress::parse("127.0.0.1").value(), port_of(fd.get())};
  const Endpoint peer{IpAddress::parse("198.18.0.2").value(), 4000};
  const uint8_t ping[4] = {'p', 'i', 'n', 'g'};
  auto down = k->send_to(peer, ping);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ENOTCONN);
  uint8_t buf[16];

  d.restart();
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(eventually([&] { return client->up() && k->attached(); }, 2000));
  EXPECT_GE(client->reattachments(), 1u);
  EXPECT_EQ(d.backend.app_count(), 1u);
  EXPECT_EQ(d.backend.socket_count(), 1u);
  ASSERT_EQ(d.backend.apps().size(), 1u);
  EXPECT_EQ(d.backend.apps()[0].spec.weight, 4u);
  // Served by the new lrpd again.
  const uint32_t tag = d.backend.sockets()[0].spec.tag;
  const uint8_t byte = 9;
  ASSERT_TRUE(d.backend.deliver(tag, peer, server, {&byte, 1}));
  auto again = app->receive_copy(buf, 1000);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->socket, k->handle());
  EXPECT_TRUE(k->send_to(peer, ping).ok());
}

// An application that writes a transmit entry by hand for a port it did not
// bind, or for another application's socket: refused and counted.
TEST(ControlPlane, TransmitFromAnotherPortIsRefused) {
  FakeDaemon d(unique_socket_path("spoof"));
  RawConnection raw(d.path);
  raw.hello();
  Message grant = raw.call(MsgType::CreateApp, CreateAppRequest{});
  AppGrant g{};
  ASSERT_TRUE(grant.read(&g));
  auto region = Region::map(std::move(grant.fds[0]), g.region_size);
  ASSERT_TRUE(region.ok());
  UniqueFd fd = udp_socket("127.0.0.1");
  const int fds[1] = {fd.get()};
  Message bound = raw.call(MsgType::Bind, BindRequest{g.app_id, 0}, fds);
  SocketReply sr{};
  ASSERT_TRUE(bound.read(&sr));
  auto write_entry = [&](uint32_t socket_id, uint16_t src_port) {
    Ring& tx = region.value()->tx();
    RingSlot s;
    ASSERT_TRUE(tx.claim_produce(&s, 0));
    s.entry->socket_id = socket_id;
    s.entry->length = 1;
    const IpAddress dst = IpAddress::parse("198.18.0.2").value();
    std::memcpy(s.entry->dst_addr, dst.bytes().data(), 16);
    s.entry->dst_port = 53;
    s.entry->src_port = src_port;
    s.entry->family = 4;
    s.entry->flags = 0;
    tx.publish(s);
  };
  write_entry(sr.socket_id, static_cast<uint16_t>(sr.local_port + 1));  // another port
  write_entry(sr.socket_id + 1000, 0);                                  // not its socket
  write_entry(sr.socket_id, sr.local_port);                             // its own: fine
  EXPECT_EQ(d.backend.drain_all(), 3u);
  EXPECT_EQ(d.backend.sent().size(), 1u);
  auto apps = d.plane->app_status();
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].tx_rejected, 2u);
}

}  // namespace
}  // namespace lrp::service::test
