// An AF_XDP socket that exists only to fill an XSKMAP slot in tests: the
// kernel accepts only AF_XDP sockets there, and a redirect needs one. It is
// bound in copy mode to the loopback of a namespace of its own, so tests
// running in parallel never contend for the same (device, queue).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace lrp::test {

class TestXsk {
 public:
  // Null on failure, with the reason in *error.
  static std::unique_ptr<TestXsk> open(std::string* error);
  ~TestXsk();
  TestXsk(const TestXsk&) = delete;
  TestXsk& operator=(const TestXsk&) = delete;

  int fd() const { return fd_; }

 private:
  TestXsk() = default;

  int fd_ = -1;
  void* umem_ = nullptr;
  size_t umem_size_ = 0;
};

}  // namespace lrp::test
