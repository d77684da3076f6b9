// Conformance scenarios of sending and addressing: IP_PKTINFO sources,
// UDP_SEGMENT, MSG_MORE and UDP_CORK, SO_BROADCAST, IP_TOS and IP_TTL,
// sizes, local destinations, SO_BINDTODEVICE, connect and disconnect with
// peer filtering on plain, SO_REUSEPORT and dual-stack sockets.
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/udp.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tests/preload/conformance_util.h"

namespace probe::conf {

namespace {

long send_with_control(int fd, const std::string& addr, uint16_t port, const std::string& payload,
                       int level, int type, const void* data, size_t len, int flags = 0) {
  socklen_t alen;
  sockaddr_storage to = sockaddr_of(addr, port, &alen);
  iovec iov{const_cast<char*>(payload.data()), payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = alen;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(len);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  std::memcpy(CMSG_DATA(c), data, len);
  return sendmsg(fd, &msg, flags);
}

long send_text(int fd, const std::string& addr, uint16_t port, const std::string& payload,
               int flags = 0) {
  socklen_t len;
  sockaddr_storage to = sockaddr_of(addr, port, &len);
  return sendto(fd, payload.data(), payload.size(), flags, reinterpret_cast<sockaddr*>(&to), len);
}

void sources(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, "0.0.0.0", p);
  served("send.pktinfo", s);
  Peer peer(AF_INET, p + 500);
  in_pktinfo info{};
  inet_pton(AF_INET, kServer4, &info.ipi_spec_dst);
  result("send.pktinfo/local", join({rv(send_with_control(s, kClient4, p + 500, "src", IPPROTO_IP,
                                                          IP_PKTINFO, &info, sizeof(info))),
                                     Peer::summary(peer.drain())}));
  inet_pton(AF_INET, "198.18.0.99", &info.ipi_spec_dst);
  result("send.pktinfo/non-local", rv(send_with_control(s, kClient4, p + 500, "src", IPPROTO_IP,
                                                        IP_PKTINFO, &info, sizeof(info))));
  in_pktinfo by_addr{};
  inet_pton(AF_INET, "198.18.0.99", &by_addr.ipi_addr);
  result("send.pktinfo/ipi-addr-ignored",
         join({rv(send_with_control(s, kClient4, p + 500, "addr", IPPROTO_IP, IP_PKTINFO, &by_addr,
                                    sizeof(by_addr))),
               Peer::summary(peer.drain())}));
  close(s);

  const int s6 = udp(AF_INET6);
  set_int(s6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  bind_to(s6, "::", p + 1);
  served("send.pktinfo6", s6);
  Peer peer6(AF_INET6, p + 501);
  in6_pktinfo info6{};
  inet_pton(AF_INET6, kServer6, &info6.ipi6_addr);
  result("send.pktinfo6/local",
         join({rv(send_with_control(s6, kClient6, p + 501, "src6", IPPROTO_IPV6, IPV6_PKTINFO,
                                    &info6, sizeof(info6))),
               Peer::summary(peer6.drain())}));
  inet_pton(AF_INET6, "2001:2::99", &info6.ipi6_addr);
  result("send.pktinfo6/non-local",
         rv(send_with_control(s6, kClient6, p + 501, "src6", IPPROTO_IPV6, IPV6_PKTINFO, &info6,
                              sizeof(info6))));
  close(s6);
}

void segmentation(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  served("send.gso", s);
  Peer peer(AF_INET, p + 500);
  result("send.gso/set", rv(set_int(s, IPPROTO_UDP, UDP_SEGMENT, 100)));
  result("send.gso/option", join({rv(send_text(s, kClient4, p + 500, std::string(250, 'g'))),
                                  Peer::summary(peer.drain(), false)}));
  result("send.gso/small", join({rv(send_text(s, kClient4, p + 500, std::string(80, 's'))),
                                 Peer::summary(peer.drain(), false)}));
  result("send.gso/exact-multiple",
         join({rv(send_text(s, kClient4, p + 500, std::string(300, 'e'))),
               Peer::summary(peer.drain(), false)}));
  set_int(s, IPPROTO_UDP, UDP_SEGMENT, 0);
  const uint16_t seg = 200;
  result("send.gso/cmsg", join({rv(send_with_control(s, kClient4, p + 500, std::string(450, 'c'),
                                                     SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg))),
                                Peer::summary(peer.drain(), false)}));
  const uint16_t too_big = 1500;
  result("send.gso/above-mtu",
         rv(send_with_control(s, kClient4, p + 500, std::string(3000, 'b'), SOL_UDP, UDP_SEGMENT,
                              &too_big, sizeof(too_big))));
  const uint16_t tiny = 10;
  result("send.gso/many-segments",
         join({rv(send_with_control(s, kClient4, p + 500, std::string(5000, 't'), SOL_UDP,
                                    UDP_SEGMENT, &tiny, sizeof(tiny))),
               std::to_string(peer.drain().size()) + " datagrams"}));
  close(s);
}

void corking(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  served("send.more", s);
  Peer a(AF_INET, p + 500), b(AF_INET, p + 501);
  result("send.more/first", rv(send_text(s, kClient4, p + 500, "ab", MSG_MORE)));
  result("send.more/second", rv(send_text(s, kClient4, p + 500, "cd")));
  result("send.more/peer", Peer::summary(a.drain()));
  result("send.more/other-dest", join({rv(send_text(s, kClient4, p + 500, "x", MSG_MORE)),
                                       rv(send_text(s, kClient4, p + 501, "y")), "a:",
                                       Peer::summary(a.drain()), "b:", Peer::summary(b.drain())}));
  result("send.cork/on", rv(set_int(s, IPPROTO_UDP, UDP_CORK, 1)));
  result("send.cork/sends", join({rv(send_text(s, kClient4, p + 500, "1")),
                                  rv(send_text(s, kClient4, p + 500, "2"))}));
  result("send.cork/held", Peer::summary(a.drain(200, 400)));
  result("send.cork/off",
         join({rv(set_int(s, IPPROTO_UDP, UDP_CORK, 0)), Peer::summary(a.drain())}));
  result("send.cork/after",
         join({rv(send_text(s, kClient4, p + 500, "3")), Peer::summary(a.drain())}));
  close(s);
}

void broadcast(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  served("send.broadcast", s);
  Peer listener(AF_INET, p + 500, kBroadcast4);
  result("send.broadcast/refused", rv(send_text(s, kBroadcast4, p + 500, "all")));
  set_int(s, SOL_SOCKET, SO_BROADCAST, 1);
  result("send.broadcast/allowed",
         join({rv(send_text(s, kBroadcast4, p + 500, "all")), Peer::summary(listener.drain())}));
  result("send.broadcast/limited", rv(send_text(s, "255.255.255.255", p + 500, "lim")));
  close(s);
}

void header_fields(uint16_t p) {
  Peer peer(AF_INET, p + 500);
  const int plain = udp(AF_INET);
  bind_to(plain, kServer4, p);
  served("send.defaults", plain);
  result("send.defaults",
         join({rv(send_text(plain, kClient4, p + 500, "d")), Peer::summary(peer.drain())}));
  close(plain);
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p + 1);
  set_int(s, IPPROTO_IP, IP_TOS, 0x28);
  served("send.tos", s);
  result("send.tos", join({rv(send_text(s, kClient4, p + 500, "t")), Peer::summary(peer.drain())}));
  close(s);
  const int t = udp(AF_INET);
  bind_to(t, kServer4, p + 2);
  served("send.ttl", t);
  set_int(t, IPPROTO_IP, IP_TTL, 7);
  result("send.ttl", join({rv(send_text(t, kClient4, p + 500, "t")), Peer::summary(peer.drain())}));
  close(t);
  Peer peer6(AF_INET6, p + 501);
  const int u = udp(AF_INET6);
  bind_to(u, kServer6, p + 3);
  served("send.tclass6", u);
  set_int(u, IPPROTO_IPV6, IPV6_TCLASS, 0x28);
  set_int(u, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 9);
  result("send.tclass6",
         join({rv(send_text(u, kClient6, p + 501, "t")), Peer::summary(peer6.drain())}));
  close(u);
}

void sizes(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  served("send.size", s);
  Peer peer(AF_INET, p + 500);
  result("send.size/mtu-payload", join({rv(send_text(s, kClient4, p + 500, std::string(1472, 'm'))),
                                        Peer::summary(peer.drain(), false)}));
  result("send.size/fragmented", join({rv(send_text(s, kClient4, p + 500, std::string(3000, 'f'))),
                                       Peer::summary(peer.drain(), false)}));
  result("send.size/too-big", rv(send_text(s, kClient4, p + 500, std::string(70000, 'b'))));
  result("send.size/empty",
         join({rv(send_text(s, kClient4, p + 500, "")), Peer::summary(peer.drain())}));
  const char* parts[] = {"sc", "at", "ter"};
  iovec iov[3];
  for (int i = 0; i < 3; ++i) iov[i] = iovec{const_cast<char*>(parts[i]), std::strlen(parts[i])};
  socklen_t len;
  sockaddr_storage to = sockaddr_of(kClient4, p + 500, &len);
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = len;
  msg.msg_iov = iov;
  msg.msg_iovlen = 3;
  result("send.size/gather", join({rv(sendmsg(s, &msg, 0)), Peer::summary(peer.drain())}));
  result("send.oob", rv(send_text(s, kClient4, p + 500, "o", MSG_OOB)));
  // An on-link address nobody answers ARP for: the kernel queues the
  // datagram behind resolution and returns at once.
  const int64_t t0 = now_ms();
  const std::string unresolved = rv(send_text(s, "198.18.0.77", p + 500, "arp"));
  result("send.unresolved-neighbour",
         unresolved + (now_ms() - t0 < 500 ? " at once" : " after waiting"));
  char b;
  result("send.no-destination", rv(send(s, &b, 1, 0)));
  close(s);
}

void destinations(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  const int other = udp(AF_INET);
  bind_to(other, kServer4, p + 1);
  served("send.local", s);
  result("send.local", join({rv(send_text(s, kServer4, p + 1, "self")),
                             (readable(other, 1000) ? recv_line(other, 0, 64, 0) : "nothing")}));
  close(other);
  close(s);
  const int d = udp(AF_INET6);
  set_int(d, IPPROTO_IPV6, IPV6_V6ONLY, 0);
  bind_to(d, "::", p + 2);
  served("send.dual-mapped", d);
  Peer peer(AF_INET, p + 500);
  result("send.dual-mapped",
         join({rv(send_text(d, std::string("::ffff:") + kClient4, p + 500, "m")),
               Peer::summary(peer.drain())}));
  socklen_t len;
  sockaddr_storage plain4 = sockaddr_of(kClient4, p + 500, &len);
  result("send.dual-sockaddr-in",
         join({rv(sendto(d, "4", 1, 0, reinterpret_cast<sockaddr*>(&plain4), len)),
               Peer::summary(peer.drain())}));
  close(d);
}

void bind_to_device(uint16_t p) {
  const std::string& iface = context().iface;
  struct Case {
    const char* key;
    const char* device;
    bool before_bind;
  };
  const Case cases[] = {{"addr.bindtodevice-lo", "lo", true},
                        {"addr.bindtodevice-iface", nullptr, true},
                        {"addr.bindtodevice-lo-after-bind", "lo", false}};
  uint16_t port = p;
  for (const Case& c : cases) {
    const std::string device = c.device != nullptr ? c.device : iface;
    const int s = udp(AF_INET);
    if (c.before_bind)
      setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, device.c_str(),
                 static_cast<socklen_t>(device.size()));
    bind_to(s, "0.0.0.0", port);
    if (!c.before_bind)
      result(std::string(c.key) + "/set",
             rv(setsockopt(s, SOL_SOCKET, SO_BINDTODEVICE, device.c_str(),
                           static_cast<socklen_t>(device.size()))));
    served(c.key, s);
    Peer peer(AF_INET, port + 500);
    peer.send(kServer4, port, "dev");
    result(std::string(c.key) + "/receive",
           readable(s, 500) ? recv_line(s, MSG_DONTWAIT, 64, 0) : "nothing");
    result(std::string(c.key) + "/send",
           join({rv(send_text(s, kClient4, port + 500, "out")), Peer::summary(peer.drain())}));
    close(s);
    ++port;
  }
}

std::string peer_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return rv(-1);
  return addr_text(reinterpret_cast<sockaddr*>(&ss), len);
}

std::string sock_name(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return rv(-1);
  return addr_text(reinterpret_cast<sockaddr*>(&ss), len);
}

int connect_to(int fd, const std::string& addr, uint16_t port) {
  socklen_t len;
  sockaddr_storage ss = sockaddr_of(addr, port, &len);
  return connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
}

int disconnect(int fd) {
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  return connect(fd, &unspec, sizeof(unspec));
}

std::string drain_text(int fd, int quiet_ms = 300) {
  std::string s;
  int n = 0;
  while (readable(fd, quiet_ms)) {
    char buf[64];
    const long r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (r < 0) break;
    s += (n++ ? "," : "") + std::string(buf, static_cast<size_t>(r));
  }
  return n == 0 ? "nothing" : s;
}

void connecting(uint16_t p) {
  const int s = udp(AF_INET);
  bind_to(s, kServer4, p);
  Peer a(AF_INET, p + 500), b(AF_INET, p + 501);
  b.send(kServer4, p, "early");
  readable(s, 1000);
  result("addr.connect/connect", rv(connect_to(s, kClient4, p + 500)));
  served("addr.connect", s);
  result("addr.connect/kept-queued", drain_text(s));
  b.send(kServer4, p, "from-b");
  a.send(kServer4, p, "from-a");
  result("addr.connect/filtered", drain_text(s));
  result("addr.connect/names", sock_name(s) + " -> " + peer_name(s));
  result("addr.connect/send", join({rv(send(s, "hi", 2, 0)), Peer::summary(a.drain())}));
  result("addr.connect/disconnect", rv(disconnect(s)));
  result("addr.connect/names-after", sock_name(s) + " -> " + peer_name(s));
  b.send(kServer4, p, "b-again");
  result("addr.connect/after", drain_text(s));
  result("addr.connect/reconnect", rv(connect_to(s, kClient4, p + 501)));
  a.send(kServer4, p, "a-again");
  b.send(kServer4, p, "b-third");
  result("addr.connect/reconnected", drain_text(s));
  close(s);

  // connect without bind: the kernel picks the port; AF_UNSPEC unbinds it.
  const int i = udp(AF_INET);
  result("addr.implicit/connect", rv(connect_to(i, kClient4, p + 500)));
  served("addr.implicit", i);
  result("addr.implicit/send",
         join({rv(send(i, "imp", 3, 0)), std::to_string(a.drain().size()) + " datagram"}));
  result("addr.implicit/disconnect", join({rv(disconnect(i)), sock_name(i)}));
  served("addr.implicit-after", i);
  close(i);
}

void reuseport_connect(uint16_t p) {
  const int s1 = udp(AF_INET), s2 = udp(AF_INET);
  for (int s : {s1, s2}) {
    set_int(s, SOL_SOCKET, SO_REUSEPORT, 1);
    bind_to(s, kServer4, p);
  }
  result("addr.reuseport-connect/connect", rv(connect_to(s1, kClient4, p + 500)));
  served("addr.reuseport-connect", s1);
  Peer a(AF_INET, p + 500);
  std::vector<std::unique_ptr<Peer>> others;
  for (int k = 1; k <= 4; ++k) others.push_back(std::make_unique<Peer>(AF_INET, p + 500 + k));
  for (int k = 0; k < 4; ++k) a.send(kServer4, p, "a");
  for (auto& o : others) o->send(kServer4, p, "o");
  sleep_ms(300);
  const auto count = [](int fd) {
    int n = 0;
    char buf[8];
    std::string what;
    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == 1) {
      ++n;
      what += buf[0];
    }
    return std::to_string(n) + ":" + what;
  };
  result("addr.reuseport-connect/spread", "connected " + count(s1) + " other " + count(s2));
  close(s1);
  close(s2);
}

void dual_connect(uint16_t p) {
  const int d = udp(AF_INET6);
  set_int(d, IPPROTO_IPV6, IPV6_V6ONLY, 0);
  bind_to(d, "::", p);
  result("addr.dual-connect/connect",
         rv(connect_to(d, std::string("::ffff:") + kClient4, p + 500)));
  served("addr.dual-connect", d);
  Peer a(AF_INET, p + 500), b(AF_INET, p + 501), six(AF_INET6, p + 502);
  b.send(kServer4, p, "b");
  six.send(kServer6, p, "six");
  a.send(kServer4, p, "a");
  result("addr.dual-connect/filtered", drain_text(d));
  result("addr.dual-connect/names", sock_name(d) + " -> " + peer_name(d));
  result("addr.dual-connect/disconnect", join({rv(disconnect(d)), sock_name(d)}));
  six.send(kServer6, p, "six-again");
  b.send(kServer4, p, "b-again");
  result("addr.dual-connect/after", drain_text(d));
  close(d);
}

void reuseaddr(uint16_t p) {
  const int s1 = udp(AF_INET), s2 = udp(AF_INET);
  for (int s : {s1, s2}) set_int(s, SOL_SOCKET, SO_REUSEADDR, 1);
  result("addr.reuseaddr/bind", join({rv(bind_to(s1, kServer4, p)), rv(bind_to(s2, kServer4, p))}));
  Peer a(AF_INET, p + 500);
  a.send(kServer4, p, "r");
  sleep_ms(200);
  result("addr.reuseaddr/who",
         std::string("first ") + drain_text(s1, 50) + " second " + drain_text(s2, 50));
  close(s1);
  close(s2);
}

}  // namespace

void send_scenarios() {
  sources(9200);
  segmentation(9210);
  corking(9220);
  broadcast(9230);
  header_fields(9240);
  sizes(9250);
  destinations(9260);
  bind_to_device(9270);
  connecting(9280);
  reuseport_connect(9290);
  dual_connect(9300);
  reuseaddr(9310);
}

}  // namespace probe::conf
