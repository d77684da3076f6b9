// Why a UDP socket stays on the kernel, or goes back to it: one stderr line
// the first time each reason is seen (every time with LRP_VERBOSE), a count
// per reason, and, when LRP_STATS_DIR names a directory, a file
// DIR/lrp-preload.PID that always holds the current counts:
//   served N
//   kernel.REASON N      (one line per reason)
//   sent.lrp N, sent.kernel.WHY N, received.lrp N, received.kernel N
// (the datagram counts are written with every takeover decision and at exit).
// The program itself never sees a difference: the kernel's bind or connect
// result stands, and the socket works on the kernel.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace lrp::preload {

enum class KernelReason : uint8_t {
  NotConfigured,  // no usable lrp settings in the environment
  NoPrivileges,   // opening lrp on the interface was refused (EPERM, EACCES)
  InterfaceBusy,  // another process serves the interface
  EngineError,    // lrp could not be opened on the interface for another reason
  ForkedChild,    // a fork child of a process whose engine serves the interface
  Limit,          // lrp's socket or application limit
  FdBudget,       // lrp's own fds would leave the program too few
  AddressInUse,   // lrp already serves this address for a socket it cannot share with
  OtherDevice,    // SO_BINDTODEVICE or a connect route leaves through another interface
  ReceiveOption,  // an option lrp cannot reproduce on receive (SO_TIMESTAMPING, filters...)
  IoUring,        // the process uses io_uring
  FdRange,        // the fd number is beyond what the library tracks
  Disconnected,   // connect(AF_UNSPEC) left the socket without a port
  Exec,           // the program execs with the socket's fd open: the new image gets the socket
  Error,          // any other failure while taking the socket over
  Count,
};

const char* to_string(KernelReason reason);

// Which way datagrams of served sockets went, counted.
enum class Route : uint8_t {
  SentLrp,                // sent by lrp
  SentKernelOption,       // an option lrp does not apply (IP_TOS, IP_TTL, SO_MARK...)
  SentKernelCork,         // MSG_MORE, UDP_CORK
  SentKernelFlags,        // a send flag lrp does not apply (MSG_OOB...)
  SentKernelDestination,  // not a unicast neighbour on the interface's subnets
  SentKernelControl,      // a control message lrp does not apply, or a foreign source
  SentKernelSize,         // fragmentation, or a segment train lrp does not split
  SentKernelBusy,         // lrp could not send at once (ring full, next hop unresolved)
  ReceivedLrp,            // received through lrp
  ReceivedKernel,         // received from the kernel socket (other interfaces, fragments)
  Count,
};
const char* to_string(Route route);

class TakeoverStats {
 public:
  static TakeoverStats& get();

  // A socket lrp took over (said on stderr with LRP_VERBOSE).
  void served(const std::string& socket);
  // A socket that stays on or goes back to the kernel. `socket` names it
  // ("udp 198.18.0.1:53 (fd 7)"), `why` is the detail.
  void kernel(KernelReason reason, const std::string& socket, const std::string& why);

  void count(Route route) {
    routes_[static_cast<size_t>(route)].value.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t served_count();
  // Writes the file now (at exit, for the datagram counts).
  void flush();
  uint64_t count(KernelReason reason);
  // In a fork child: the counts are the parent's; the child starts from zero
  // in a file of its own.
  void after_fork();

 private:
  TakeoverStats() = default;
  void write_file_locked();

  std::mutex mutex_;
  uint64_t served_ = 0;
  std::array<uint64_t, static_cast<size_t>(KernelReason::Count)> kernel_{};
  std::array<bool, static_cast<size_t>(KernelReason::Count)> said_{};
  // One cache line each: threads sending and receiving do not share one.
  struct alignas(64) RouteCount {
    std::atomic<uint64_t> value{0};
  };
  std::array<RouteCount, static_cast<size_t>(Route::Count)> routes_{};
};

}  // namespace lrp::preload
