// An ordinary kernel UDP socket created inside a namespace, for the far side of tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lrp::test {

class UdpPeer {
 public:
  // family: AF_INET or AF_INET6; bind_port 0 lets the kernel choose.
  UdpPeer(const std::string& netns, int family, uint16_t bind_port = 0);
  ~UdpPeer();
  UdpPeer(const UdpPeer&) = delete;
  UdpPeer& operator=(const UdpPeer&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }
  bool send_to(const std::string& addr, uint16_t port, const std::string& payload);
  // Sends count datagrams with sendmmsg in batches; returns how many the kernel took.
  size_t send_many(const std::string& addr, uint16_t port, size_t count, size_t payload_size);
  // Receives one datagram or returns false after timeout_ms.
  bool receive(std::string* payload, int timeout_ms, std::string* from_addr = nullptr,
               uint16_t* from_port = nullptr);

 private:
  int fd_ = -1;
  int family_ = 0;
  uint16_t port_ = 0;
};

}  // namespace lrp::test
