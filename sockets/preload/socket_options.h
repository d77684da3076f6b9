// What lrp does with the options of a UDP socket it serves. Every
// setsockopt goes to the kernel socket first; then:
// - options lrp reproduces (IP_PKTINFO, IP_RECVTOS, IP_RECVTTL, timestamps,
//   IP_RECVORIGDSTADDR and their IPv6 twins, SO_RCVBUF, UDP_SEGMENT,
//   UDP_CORK) are read back from the kernel socket, so lrp acts on the
//   kernel's own view of them;
// - options that change what a receive returns in ways lrp cannot reproduce
//   (SO_TIMESTAMPING, socket filters, SO_RXQ_OVFL, IP options...) keep the
//   socket on the kernel, or give it back;
// - options that change how datagrams leave (IP_TOS, IP_TTL, SO_MARK,
//   SO_PRIORITY...) make lrp hand that socket's sends to the kernel socket.
#pragma once

#include <sys/socket.h>

#include <cstdint>

namespace lrp::preload {

enum class OptionRole : uint8_t {
  Reproduced,       // lrp acts on the kernel's value
  ReceiveOnKernel,  // enabled: the socket stays on (goes back to) the kernel
  SendOnKernel,     // set: sends go through the kernel socket
};

struct OptionInfo {
  const char* name;
  OptionRole role;
};

// The options the library knows; null for the rest (those only ever
// concern the kernel socket).
const OptionInfo* classify_option(int level, int name);

// One consistent view of the options, read from the kernel socket.
struct OptionState {
  // receive
  bool pktinfo4 = false;      // IP_PKTINFO
  bool pktinfo6 = false;      // IPV6_RECVPKTINFO
  bool recvtos = false;       // IP_RECVTOS
  bool recvttl = false;       // IP_RECVTTL
  bool origdst4 = false;      // IP_RECVORIGDSTADDR
  bool recvtclass = false;    // IPV6_RECVTCLASS
  bool recvhoplimit = false;  // IPV6_RECVHOPLIMIT
  bool origdst6 = false;      // IPV6_RECVORIGDSTADDR
  int timestamp = 0;          // 0, or the cmsg type: SO_TIMESTAMP{,NS}_{OLD,NEW}
  uint32_t rcvbuf_bound = 0;  // datagrams an unread socket keeps; 0: not set by the program
  bool v6only = false;
  int bound_ifindex = 0;  // SO_BINDTODEVICE
  int rcvtimeo_ms = -1;   // SO_RCVTIMEO; -1: none
  int sndtimeo_ms = -1;   // SO_SNDTIMEO; -1: none
  // send
  uint16_t gso_size = 0;  // UDP_SEGMENT
  bool corked = false;    // UDP_CORK
  // The first option set that keeps receives (sends) on the kernel, or null.
  const char* receive_on_kernel = nullptr;
  const char* send_on_kernel = nullptr;

  bool any_receive_cmsg() const {
    return pktinfo4 || pktinfo6 || recvtos || recvttl || origdst4 || recvtclass || recvhoplimit ||
           origdst6 || timestamp != 0;
  }
};

// Bits for options that cannot be read back (SO_ATTACH_BPF, IP_TTL set to
// its default...): the library remembers that the program set them.
uint64_t sticky_bit(int level, int name);

// Reads every option above from the kernel socket fd.
OptionState read_options(int fd, int family, uint64_t sticky);

}  // namespace lrp::preload
