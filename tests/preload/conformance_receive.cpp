// Conformance scenarios of receiving: peek, truncation, the error queue,
// non-blocking and timed receives, recvmmsg, control messages, SO_RCVBUF.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tests/preload/conformance_util.h"

namespace probe::conf {

namespace {

void wait_in(int fd) {
  readable(fd, 2000);
}

void peek_then_read(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  served("recv.peek", s);
  Peer peer(AF_INET, p + 500);
  peer.send(kServer4, p, "peek-me");
  wait_in(s);
  result("recv.peek/peek", recv_line(s, MSG_PEEK, 64, 0));
  result("recv.peek/peek-again", recv_line(s, MSG_PEEK, 4, 0));
  result("recv.peek/read", recv_line(s, 0, 64, 0));
  result("recv.peek/empty", recv_line(s, MSG_DONTWAIT, 64, 0));
  close(s);
}

void truncation(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  served("recv.trunc", s);
  Peer peer(AF_INET, p + 500);
  const std::string hundred(100, 'x');
  peer.send(kServer4, p, hundred);
  wait_in(s);
  char buf[10];
  errno = 0;
  result("recv.trunc/recv-flag", rv(recv(s, buf, sizeof(buf), MSG_TRUNC)));
  peer.send(kServer4, p, hundred);
  wait_in(s);
  result("recv.trunc/recvmsg", recv_line(s, 0, 10, 0));
  peer.send(kServer4, p, hundred);
  wait_in(s);
  result("recv.trunc/recvmsg-flag", recv_line(s, MSG_TRUNC, 10, 0));
  peer.send(kServer4, p, hundred);
  wait_in(s);
  result("recv.trunc/peek-trunc", recv_line(s, MSG_PEEK | MSG_TRUNC, 10, 0));
  result("recv.trunc/zero-buffer", recv_line(s, 0, 0, 0));
  close(s);
}

void error_queue(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  served("recv.errqueue", s);
  Peer peer(AF_INET, p + 500);
  peer.send(kServer4, p, "queued");
  wait_in(s);
  const int64_t t0 = now_ms();
  result("recv.errqueue/empty", recv_line(s, MSG_ERRQUEUE, 64, 256));
  result("recv.errqueue/never-blocks", now_ms() - t0 < 500 ? "yes" : "no");
  result("recv.errqueue/datagram-kept", recv_line(s, MSG_DONTWAIT, 64, 0));
  close(s);

  // An ICMP port unreachable for a datagram this socket sent, with IP_RECVERR.
  const int e = udp(AF_INET);
  set_int(e, IPPROTO_IP, IP_RECVERR, 1);
  bind_to(e, kServer4, p + 1);
  served("recv.errqueue-icmp", e);
  socklen_t len;
  sockaddr_storage to = sockaddr_of(kClient4, p + 1500, &len);  // nobody listens there
  result("recv.errqueue-icmp/send",
         rv(sendto(e, "lost", 4, 0, reinterpret_cast<sockaddr*>(&to), len)));
  sleep_ms(300);
  result("recv.errqueue-icmp/read", recv_line(e, MSG_ERRQUEUE, 64, 256));
  result("recv.errqueue-icmp/again", recv_line(e, MSG_ERRQUEUE, 64, 256));
  result("recv.errqueue-icmp/normal", recv_line(e, MSG_DONTWAIT, 64, 0));
  close(e);
}

void connected_refused(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  socklen_t len;
  sockaddr_storage to = sockaddr_of(kClient4, p + 1500, &len);
  result("recv.connrefused/connect", rv(connect(s, reinterpret_cast<sockaddr*>(&to), len)));
  served("recv.connrefused", s);
  result("recv.connrefused/send", rv(send(s, "x", 1, 0)));
  sleep_ms(300);
  char buf[8];
  result("recv.connrefused/recv", rv(recv(s, buf, sizeof(buf), MSG_DONTWAIT)));
  result("recv.connrefused/recv-again", rv(recv(s, buf, sizeof(buf), MSG_DONTWAIT)));
  close(s);
}

void nonblocking(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  served("recv.dontwait", s);
  char buf[8];
  result("recv.dontwait/recv", rv(recv(s, buf, sizeof(buf), MSG_DONTWAIT)));
  result("recv.dontwait/recvmsg", recv_line(s, MSG_DONTWAIT, 8, 0));
  const int flags = fcntl(s, F_GETFL);
  fcntl(s, F_SETFL, flags | O_NONBLOCK);
  result("recv.dontwait/o-nonblock", rv(read(s, buf, sizeof(buf))));
  result("recv.dontwait/getfl", (fcntl(s, F_GETFL) & O_NONBLOCK) != 0 ? "nonblock" : "block");
  int off = 0;
  ioctl(s, FIONBIO, &off);
  result("recv.dontwait/fionbio-off", (fcntl(s, F_GETFL) & O_NONBLOCK) != 0 ? "nonblock" : "block");
  timeval tv{0, 150'000};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const int64_t t0 = now_ms();
  const std::string r = rv(recv(s, buf, sizeof(buf), 0));
  const int64_t waited = now_ms() - t0;
  result("recv.rcvtimeo",
         r + (waited >= 120 && waited < 1500 ? " after the timeout" : " early/late"));
  Peer peer(AF_INET, p + 500);
  peer.send(kServer4, p, "seven77");
  wait_in(s);
  int avail = -1;
  result("recv.fionread", join({rv(ioctl(s, FIONREAD, &avail)), std::to_string(avail)}));
  result("recv.read", join({rv(read(s, buf, sizeof(buf))), std::string(buf, 7)}));
  peer.send(kServer4, p, "x");
  wait_in(s);
  sockaddr_in short_name{};
  socklen_t short_len = 4;
  const long got =
      recvfrom(s, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&short_name), &short_len);
  result("recv.short-name", rv(got) + " namelen=" + std::to_string(short_len) +
                                " family=" + std::to_string(short_name.sin_family) +
                                " port-untouched=" + (short_name.sin_port == 0 ? "yes" : "no"));
  peer.send(kServer4, p, "cloexec");
  wait_in(s);
  result("recv.cmsg-cloexec", recv_line(s, MSG_CMSG_CLOEXEC, 64, 64));
  close(s);
}

void batches(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  served("recv.mmsg", s);
  Peer peer(AF_INET, p + 500);
  for (const char* m : {"one", "two", "three"}) peer.send(kServer4, p, m);
  sleep_ms(200);
  mmsghdr in[8] = {};
  char bufs[8][16];
  iovec iov[8];
  for (int i = 0; i < 8; ++i) {
    iov[i] = iovec{bufs[i], sizeof(bufs[i])};
    in[i].msg_hdr.msg_iov = &iov[i];
    in[i].msg_hdr.msg_iovlen = 1;
  }
  const int n = recvmmsg(s, in, 8, MSG_WAITFORONE, nullptr);
  std::string lens;
  for (int i = 0; i < n; ++i) lens += " " + std::to_string(in[i].msg_len);
  result("recv.mmsg/waitforone", rv(n) + lens);
  result("recv.mmsg/empty", rv(recvmmsg(s, in, 8, MSG_WAITFORONE | MSG_DONTWAIT, nullptr)));
  for (const char* m : {"a", "b"}) peer.send(kServer4, p, m);
  sleep_ms(200);
  timespec timeout{5, 0};
  const int k = recvmmsg(s, in, 2, 0, &timeout);
  result("recv.mmsg/timeout-left", rv(k) + (timeout.tv_sec >= 4 ? " most left" : " little left"));
  close(s);
}

// Control messages: each scenario sets options, a peer sends with a known
// TOS and TTL, and the whole recvmsg is compared.
struct AncCase {
  const char* key;
  int family;
  const char* bind_addr;
  bool v6only;
  int peer_family;
  std::vector<std::pair<int, int>> options;  // (level, name) set to 1
  size_t control;
};

void ancillary(uint16_t p) {
  const AncCase cases[] = {
      {"anc.pktinfo4", AF_INET, "0.0.0.0", false, AF_INET, {{IPPROTO_IP, IP_PKTINFO}}, 256},
      {"anc.pktinfo6", AF_INET6, "::", true, AF_INET6, {{IPPROTO_IPV6, IPV6_RECVPKTINFO}}, 256},
      {"anc.tos-ttl4",
       AF_INET,
       kServer4,
       false,
       AF_INET,
       {{IPPROTO_IP, IP_RECVTOS}, {IPPROTO_IP, IP_RECVTTL}},
       256},
      {"anc.tclass-hops6",
       AF_INET6,
       kServer6,
       false,
       AF_INET6,
       {{IPPROTO_IPV6, IPV6_RECVTCLASS}, {IPPROTO_IPV6, IPV6_RECVHOPLIMIT}},
       256},
      {"anc.dual-v4",
       AF_INET6,
       "::",
       false,
       AF_INET,
       {{IPPROTO_IPV6, IPV6_RECVPKTINFO},
        {IPPROTO_IP, IP_PKTINFO},
        {IPPROTO_IP, IP_RECVTTL},
        {IPPROTO_IP, IP_RECVTOS},
        {IPPROTO_IPV6, IPV6_RECVHOPLIMIT}},
       256},
      {"anc.timestamp", AF_INET, kServer4, false, AF_INET, {{SOL_SOCKET, SO_TIMESTAMP_OLD}}, 256},
      {"anc.timestampns",
       AF_INET,
       kServer4,
       false,
       AF_INET,
       {{SOL_SOCKET, SO_TIMESTAMPNS_OLD}},
       256},
      {"anc.timestamp-new",
       AF_INET,
       kServer4,
       false,
       AF_INET,
       {{SOL_SOCKET, SO_TIMESTAMP_NEW}},
       256},
      {"anc.timestampns-new",
       AF_INET6,
       kServer6,
       false,
       AF_INET6,
       {{SOL_SOCKET, SO_TIMESTAMPNS_NEW}},
       256},
      {"anc.origdst4", AF_INET, "0.0.0.0", false, AF_INET, {{IPPROTO_IP, IP_RECVORIGDSTADDR}}, 256},
      {"anc.origdst6", AF_INET6, "::", true, AF_INET6, {{IPPROTO_IPV6, IPV6_RECVORIGDSTADDR}}, 256},
      {"anc.all4",
       AF_INET,
       "0.0.0.0",
       false,
       AF_INET,
       {{SOL_SOCKET, SO_TIMESTAMP_OLD},
        {IPPROTO_IP, IP_PKTINFO},
        {IPPROTO_IP, IP_RECVTTL},
        {IPPROTO_IP, IP_RECVTOS},
        {IPPROTO_IP, IP_RECVORIGDSTADDR}},
       256},
      {"anc.ctrunc", AF_INET, kServer4, false, AF_INET, {{IPPROTO_IP, IP_PKTINFO}}, CMSG_SPACE(4)},
      {"anc.ctrunc-header", AF_INET, kServer4, false, AF_INET, {{IPPROTO_IP, IP_PKTINFO}}, 8},
      {"anc.ctrunc-none", AF_INET, kServer4, false, AF_INET, {{IPPROTO_IP, IP_PKTINFO}}, 0},
      {"anc.ctrunc-second",
       AF_INET,
       kServer4,
       false,
       AF_INET,
       {{IPPROTO_IP, IP_PKTINFO}, {IPPROTO_IP, IP_RECVTTL}},
       CMSG_SPACE(sizeof(in_pktinfo)) + 4},
  };
  uint16_t port = p;
  for (const AncCase& c : cases) {
    const int s = udp(c.family);
    if (c.family == AF_INET6) set_int(s, IPPROTO_IPV6, IPV6_V6ONLY, c.v6only ? 1 : 0);
    for (const auto& [level, name] : c.options) set_int(s, level, name, 1);
    bind_to(s, c.bind_addr, port);
    served(c.key, s);
    Peer peer(c.peer_family, port + 500);
    Window w;
    w.t0 = realtime();
    peer.send(c.peer_family == AF_INET ? kServer4 : kServer6, port, "anc", 0x28, 33);
    wait_in(s);
    result(c.key, recv_line(s, 0, 64, c.control, true, &w));
    close(s);
    ++port;
  }
}

void receive_buffer(uint16_t p) {
  for (int small : {1, 0}) {
    const std::string key = small ? "rcvbuf.small" : "rcvbuf.default";
    const int s = udp(AF_INET);
    if (small) set_int(s, SOL_SOCKET, SO_RCVBUF, 2048);
    bind_to(s, kServer4, p);
    served(key, s);
    int value = 0;
    socklen_t len = sizeof(value);
    getsockopt(s, SOL_SOCKET, SO_RCVBUF, &value, &len);
    if (small) result(key + "/getsockopt", std::to_string(value));
    Peer peer(AF_INET, p + 500);
    constexpr int kSent = 64;
    const std::string payload(100, 'r');
    for (int i = 0; i < kSent; ++i) peer.send(kServer4, p, payload);
    sleep_ms(300);
    int kept = 0;
    char buf[128];
    while (recv(s, buf, sizeof(buf), MSG_DONTWAIT) > 0) ++kept;
    std::printf("# %s kept %d of %d\n", key.c_str(), kept, kSent);
    result(key, kept == kSent ? "all kept" : kept > 0 && kept < kSent / 2 ? "bounded" : "other");
    close(s);
    ++p;
  }
}

}  // namespace

void receive_scenarios() {
  peek_then_read(9000);
  truncation(9010);
  error_queue(9020);
  connected_refused(9030);
  nonblocking(9040);
  batches(9050);
  ancillary(9100);
  receive_buffer(9130);
}

}  // namespace probe::conf
