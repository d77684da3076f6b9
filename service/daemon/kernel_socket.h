// What a client's kernel UDP socket says about itself: the kernel already
// enforced privileged ports, address-in-use and SO_REUSEPORT when it was
// bound, so what it reports is the proof of what lrpd may serve for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lrp/ip_address.h"
#include "lrp/result.h"

namespace lrp::service {

struct KernelSocketInfo {
  uint64_t device = 0;  // st_dev and st_ino: the socket's identity
  uint64_t inode = 0;
  Endpoint local;                  // IPv4 also for an IPv6 socket bound to a v4-mapped address
  std::optional<Endpoint> remote;  // connected
  bool reuseport = false;
  bool dual_stack = false;   // IPv6 wildcard without IPV6_V6ONLY
  std::string bound_device;  // SO_BINDTODEVICE, empty when none
};

// EBADF not a socket; EPROTOTYPE not UDP; EAFNOSUPPORT neither IPv4 nor
// IPv6; EINVAL not bound to a port.
Result<KernelSocketInfo> inspect_kernel_socket(int fd);

}  // namespace lrp::service
