// A fresh network namespace for the calling thread, and a device with many
// receive queues in it: BPF_PROG_TEST_RUN takes rx_queue_index only together
// with the ifindex of a device that has that queue, looked up in the calling
// thread's namespace.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace lrp::test {

class PrivateNetns {
 public:
  // Null on failure, with the reason in *error. The calling thread stays in
  // the new namespace until the object is destroyed.
  static std::unique_ptr<PrivateNetns> enter(std::string* error);
  ~PrivateNetns();
  PrivateNetns(const PrivateNetns&) = delete;
  PrivateNetns& operator=(const PrivateNetns&) = delete;

  // Adds a veth pair whose first end has `rx_queues` receive queues and
  // returns that end's ifindex (0 on failure, with the reason in *error).
  int add_queue_device(const std::string& name, uint32_t rx_queues, std::string* error);

 private:
  PrivateNetns() = default;
  int saved_fd_ = -1;
};

}  // namespace lrp::test
