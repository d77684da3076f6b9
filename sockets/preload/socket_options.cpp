#include "sockets/preload/socket_options.h"

#include <linux/filter.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#include <algorithm>
#include <cstdio>

#include "sockets/preload/libc_calls.h"

// From linux/in6.h, which cannot be included beside netinet/in.h.
#ifndef IPV6_FLOWINFO
#define IPV6_FLOWINFO 11
#endif

namespace lrp::preload {

namespace {

struct Entry {
  int level;
  int name;
  OptionInfo info;
  bool readable;  // getsockopt tells whether it is on (an int, non-zero)
};

constexpr OptionRole R = OptionRole::Reproduced;
constexpr OptionRole K = OptionRole::ReceiveOnKernel;
constexpr OptionRole S = OptionRole::SendOnKernel;

#define E(level, name, role, readable) \
  { level, name, {#name, role}, readable }

const Entry kOptions[] = {
    E(SOL_SOCKET, SO_TIMESTAMP_OLD, R, true),
    E(SOL_SOCKET, SO_TIMESTAMPNS_OLD, R, true),
    E(SOL_SOCKET, SO_TIMESTAMP_NEW, R, true),
    E(SOL_SOCKET, SO_TIMESTAMPNS_NEW, R, true),
    E(SOL_SOCKET, SO_RCVBUF, R, false),
    E(SOL_SOCKET, SO_RCVBUFFORCE, R, false),
    E(SOL_SOCKET, SO_BINDTODEVICE, R, false),
    E(SOL_SOCKET, SO_BINDTOIFINDEX, R, false),
    E(SOL_SOCKET, SO_RCVTIMEO_OLD, R, false),
    E(SOL_SOCKET, SO_RCVTIMEO_NEW, R, false),
    E(SOL_SOCKET, SO_SNDTIMEO_OLD, R, false),
    E(SOL_SOCKET, SO_SNDTIMEO_NEW, R, false),
    E(SOL_SOCKET, SO_TIMESTAMPING_OLD, K, true),
    E(SOL_SOCKET, SO_TIMESTAMPING_NEW, K, true),
    E(SOL_SOCKET, SO_RXQ_OVFL, K, true),
    E(SOL_SOCKET, SO_RCVMARK, K, true),
    E(SOL_SOCKET, SO_PASSSEC, K, true),
    E(SOL_SOCKET, SO_PEEK_OFF, K, false),
    E(SOL_SOCKET, SO_ATTACH_FILTER, K, false),
    E(SOL_SOCKET, SO_ATTACH_BPF, K, false),
    E(SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, K, false),
    E(SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, K, false),
    E(SOL_SOCKET, SO_PRIORITY, S, true),
    E(SOL_SOCKET, SO_MARK, S, true),
    E(SOL_SOCKET, SO_NO_CHECK, S, true),
    E(SOL_SOCKET, SO_TXTIME, S, false),
    E(SOL_SOCKET, SO_ZEROCOPY, S, true),
    E(IPPROTO_IP, IP_PKTINFO, R, true),
    E(IPPROTO_IP, IP_RECVTOS, R, true),
    E(IPPROTO_IP, IP_RECVTTL, R, true),
    E(IPPROTO_IP, IP_RECVORIGDSTADDR, R, true),
    E(IPPROTO_IP, IP_RECVOPTS, K, true),
    E(IPPROTO_IP, IP_RETOPTS, K, true),
    E(IPPROTO_IP, IP_RECVFRAGSIZE, K, true),
    E(IPPROTO_IP, IP_PASSSEC, K, true),
    E(IPPROTO_IP, IP_CHECKSUM, K, true),
    E(IPPROTO_IP, IP_TOS, S, true),
    E(IPPROTO_IP, IP_TTL, S, false),
    E(IPPROTO_IP, IP_OPTIONS, S, false),
    E(IPPROTO_IPV6, IPV6_RECVPKTINFO, R, true),
    E(IPPROTO_IPV6, IPV6_RECVTCLASS, R, true),
    E(IPPROTO_IPV6, IPV6_RECVHOPLIMIT, R, true),
    E(IPPROTO_IPV6, IPV6_RECVORIGDSTADDR, R, true),
    E(IPPROTO_IPV6, IPV6_V6ONLY, R, true),
    E(IPPROTO_IPV6, IPV6_RECVRTHDR, K, true),
    E(IPPROTO_IPV6, IPV6_RECVHOPOPTS, K, true),
    E(IPPROTO_IPV6, IPV6_RECVDSTOPTS, K, true),
    E(IPPROTO_IPV6, IPV6_RECVPATHMTU, K, true),
    E(IPPROTO_IPV6, IPV6_FLOWINFO, K, true),
    E(IPPROTO_IPV6, IPV6_RECVFRAGSIZE, K, true),
    E(IPPROTO_IPV6, IPV6_2292PKTINFO, K, true),
    E(IPPROTO_IPV6, IPV6_2292HOPLIMIT, K, true),
    E(IPPROTO_IPV6, IPV6_2292HOPOPTS, K, true),
    E(IPPROTO_IPV6, IPV6_2292DSTOPTS, K, true),
    E(IPPROTO_IPV6, IPV6_2292RTHDR, K, true),
    E(IPPROTO_IPV6, IPV6_TCLASS, S, true),
    E(IPPROTO_IPV6, IPV6_UNICAST_HOPS, S, false),
    E(IPPROTO_UDP, UDP_SEGMENT, R, true),
    E(IPPROTO_UDP, UDP_CORK, R, true),
    E(IPPROTO_UDP, UDP_NO_CHECK6_TX, S, true),
    E(IPPROTO_UDP, UDP_NO_CHECK6_RX, K, true),
};

#undef E

constexpr size_t kCount = sizeof(kOptions) / sizeof(kOptions[0]);
static_assert(kCount <= 64, "sticky bits are a 64-bit mask");

int read_int(int fd, int level, int name, int fallback = 0) {
  int v = 0;
  socklen_t len = sizeof(v);
  if (libc().getsockopt(fd, level, name, &v, &len) != 0) return fallback;
  return v;
}

bool on(int fd, int level, int name) {
  return read_int(fd, level, name) != 0;
}

// SO_RCVTIMEO / SO_SNDTIMEO in milliseconds, rounded up; -1 when unset.
int timeout_ms(int fd, int name) {
  timeval tv{};
  socklen_t len = sizeof(tv);
  if (libc().getsockopt(fd, SOL_SOCKET, name, &tv, &len) != 0) return -1;
  if (tv.tv_sec == 0 && tv.tv_usec == 0) return -1;
  const long long ms = tv.tv_sec * 1000LL + (tv.tv_usec + 999) / 1000;
  return ms > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(ms);
}

uint32_t rmem_default() {
  static const uint32_t value = [] {
    uint32_t v = 212992;
    if (FILE* f = std::fopen("/proc/sys/net/core/rmem_default", "re")) {
      if (std::fscanf(f, "%u", &v) != 1) v = 212992;
      std::fclose(f);
    }
    return v;
  }();
  return value;
}

}  // namespace

// What the kernel charges an unread small datagram against SO_RCVBUF (the
// buffer's size with its bookkeeping), so a bound in bytes becomes a
// bound in datagrams.
constexpr uint32_t kChargePerDatagram = 1024;

const OptionInfo* classify_option(int level, int name) {
  for (const Entry& e : kOptions)
    if (e.level == level && e.name == name) return &e.info;
  return nullptr;
}

uint64_t sticky_bit(int level, int name) {
  for (size_t i = 0; i < kCount; ++i)
    if (kOptions[i].level == level && kOptions[i].name == name && !kOptions[i].readable &&
        kOptions[i].info.role != OptionRole::Reproduced)
      return uint64_t{1} << i;
  return 0;
}

OptionState read_options(int fd, int family, uint64_t sticky) {
  OptionState o;
  o.pktinfo4 = on(fd, IPPROTO_IP, IP_PKTINFO);
  o.recvtos = on(fd, IPPROTO_IP, IP_RECVTOS);
  o.recvttl = on(fd, IPPROTO_IP, IP_RECVTTL);
  o.origdst4 = on(fd, IPPROTO_IP, IP_RECVORIGDSTADDR);
  if (family == AF_INET6) {
    o.pktinfo6 = on(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO);
    o.recvtclass = on(fd, IPPROTO_IPV6, IPV6_RECVTCLASS);
    o.recvhoplimit = on(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT);
    o.origdst6 = on(fd, IPPROTO_IPV6, IPV6_RECVORIGDSTADDR);
    o.v6only = on(fd, IPPROTO_IPV6, IPV6_V6ONLY);
  }
  // The kernel answers each timestamp option from the same flags; the first
  // that is on names the control message it would send.
  for (int type : {SO_TIMESTAMPNS_NEW, SO_TIMESTAMP_NEW, SO_TIMESTAMPNS_OLD, SO_TIMESTAMP_OLD}) {
    if (on(fd, SOL_SOCKET, type)) {
      o.timestamp = type;
      break;
    }
  }
  const int rcvbuf = read_int(fd, SOL_SOCKET, SO_RCVBUF);
  if (rcvbuf > 0 && static_cast<uint32_t>(rcvbuf) != rmem_default())
    o.rcvbuf_bound = std::max<uint32_t>(1, static_cast<uint32_t>(rcvbuf) / kChargePerDatagram);
  o.bound_ifindex = read_int(fd, SOL_SOCKET, SO_BINDTOIFINDEX);
  o.rcvtimeo_ms = timeout_ms(fd, SO_RCVTIMEO);
  o.sndtimeo_ms = timeout_ms(fd, SO_SNDTIMEO);
  o.gso_size = static_cast<uint16_t>(read_int(fd, IPPROTO_UDP, UDP_SEGMENT));
  o.corked = on(fd, IPPROTO_UDP, UDP_CORK);

  for (size_t i = 0; i < kCount; ++i) {
    const Entry& e = kOptions[i];
    if (e.info.role == OptionRole::Reproduced) continue;
    if (family == AF_INET && e.level == IPPROTO_IPV6) continue;
    bool set = false;
    if (e.readable) {
      const int v = read_int(fd, e.level, e.name);
      set = e.level == IPPROTO_IPV6 && e.name == IPV6_TCLASS ? v > 0 : v != 0;
    } else {
      set = (sticky & (uint64_t{1} << i)) != 0;
    }
    // A classic filter can be read back: its length in instructions.
    if (e.level == SOL_SOCKET && e.name == SO_ATTACH_FILTER && !set) {
      socklen_t len = 0;
      set = libc().getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, nullptr, &len) == 0 && len > 0;
    }
    if (e.level == SOL_SOCKET && e.name == SO_PEEK_OFF)
      set = read_int(fd, SOL_SOCKET, SO_PEEK_OFF, -1) >= 0;
    if (!set) continue;
    if (e.info.role == OptionRole::ReceiveOnKernel && o.receive_on_kernel == nullptr)
      o.receive_on_kernel = e.info.name;
    if (e.info.role == OptionRole::SendOnKernel && o.send_on_kernel == nullptr)
      o.send_on_kernel = e.info.name;
  }
  return o;
}

}  // namespace lrp::preload
