#include "tests/bpf/private_netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lrp::test {

std::unique_ptr<PrivateNetns> PrivateNetns::enter(std::string* error) {
  std::unique_ptr<PrivateNetns> ns(new PrivateNetns());
  ns->saved_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (ns->saved_fd_ < 0) {
    *error = std::string("open /proc/thread-self/ns/net: ") + std::strerror(errno);
    return nullptr;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    *error = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    return nullptr;  // still in the original namespace; the destructor only closes
  }
  return ns;
}

PrivateNetns::~PrivateNetns() {
  if (saved_fd_ < 0) return;
  // Leaving drops the last reference to the namespace, and its devices with it.
  if (setns(saved_fd_, CLONE_NEWNET) != 0) std::abort();  // the thread would be stranded
  close(saved_fd_);
}

int PrivateNetns::add_queue_device(const std::string& name, uint32_t rx_queues,
                                   std::string* error) {
  // A child process runs in the namespace of the thread that starts it.
  const std::string command = "ip link add " + name + " numrxqueues " + std::to_string(rx_queues) +
                              " numtxqueues 1 type veth peer name " + name + "p >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) {
    *error = "failed: " + command;
    return 0;
  }
  const unsigned ifindex = if_nametoindex(name.c_str());
  if (ifindex == 0) *error = "if_nametoindex(" + name + "): " + std::strerror(errno);
  return static_cast<int>(ifindex);
}

}  // namespace lrp::test
