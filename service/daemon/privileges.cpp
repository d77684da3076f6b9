#include "service/daemon/privileges.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace lrp::service {

const std::vector<Capability>& required_capabilities() {
  static const std::vector<Capability> caps = {
      {CAP_NET_ADMIN, "CAP_NET_ADMIN", "attach XDP programs and bind AF_XDP sockets"},
      {CAP_NET_RAW, "CAP_NET_RAW", "create AF_XDP sockets"},
      {CAP_BPF, "CAP_BPF", "load the XDP program and create its maps"},
      {CAP_PERFMON, "CAP_PERFMON", "read the XDP program's maps and counters"},
      {CAP_IPC_LOCK, "CAP_IPC_LOCK",
       "lock the UMEM frames in memory (not needed with an unlimited RLIMIT_MEMLOCK)"},
  };
  return caps;
}

std::vector<std::string> missing_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  std::vector<std::string> missing;
  if (syscall(SYS_capget, &header, data) != 0) {
    for (const auto& c : required_capabilities()) missing.push_back(c.name);
    return missing;
  }
  rlimit memlock{};
  const bool unlimited_memlock =
      getrlimit(RLIMIT_MEMLOCK, &memlock) == 0 && memlock.rlim_cur == RLIM_INFINITY;
  for (const auto& c : required_capabilities()) {
    if (c.number == CAP_IPC_LOCK && unlimited_memlock) continue;
    const uint32_t word = static_cast<uint32_t>(c.number) / 32;
    const uint32_t bit = 1u << (static_cast<uint32_t>(c.number) % 32);
    if ((data[word].effective & bit) == 0) missing.push_back(c.name);
  }
  return missing;
}

}  // namespace lrp::service
