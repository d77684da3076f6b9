// Sends whole Ethernet frames, as built, out of an interface of a namespace
// (an AF_PACKET raw socket): for frames no kernel socket would ever send.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace lrp::test {

class RawSender {
 public:
  RawSender(const std::string& netns, const std::string& ifname);
  ~RawSender();
  RawSender(const RawSender&) = delete;
  RawSender& operator=(const RawSender&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  // True when the kernel took the frame. A frame the device dropped on the
  // way out (ENOBUFS from a veth, which has no queue) counts as taken and
  // is counted in device_drops().
  bool send(std::span<const uint8_t> frame);
  uint64_t device_drops() const { return device_drops_; }

 private:
  int fd_ = -1;
  int ifindex_ = 0;
  uint64_t device_drops_ = 0;
  std::string error_;
};

}  // namespace lrp::test
