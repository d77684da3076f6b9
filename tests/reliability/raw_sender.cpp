#include "tests/reliability/raw_sender.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "tests/support/netns.h"

namespace lrp::test {

RawSender::RawSender(const std::string& netns, const std::string& ifname) {
  // The socket belongs to the namespace it is created in.
  NetnsGuard in(netns);
  if (!in.ok()) {
    error_ = "enter namespace " + netns;
    return;
  }
  ifindex_ = static_cast<int>(if_nametoindex(ifname.c_str()));
  if (ifindex_ == 0) {
    error_ = "no interface " + ifname + " in " + netns;
    return;
  }
  fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);  // protocol 0: send only
  if (fd_ < 0) error_ = std::string("socket(AF_PACKET): ") + std::strerror(errno);
}

RawSender::~RawSender() {
  if (fd_ >= 0) close(fd_);
}

bool RawSender::send(std::span<const uint8_t> frame) {
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex_;
  to.sll_halen = ETH_ALEN;
  if (frame.size() >= ETH_ALEN) std::memcpy(to.sll_addr, frame.data(), ETH_ALEN);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const ssize_t n =
        sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    if (n == static_cast<ssize_t>(frame.size())) return true;
    if (n < 0 && errno == ENOBUFS) {
      ++device_drops_;
      return true;
    }
    if (n < 0 && errno != EAGAIN) {
      error_ = std::string("send a raw frame of ") + std::to_string(frame.size()) +
               " bytes: " + std::strerror(errno);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  error_ = "send a raw frame: socket busy for 100 ms";
  return false;
}

}  // namespace lrp::test
