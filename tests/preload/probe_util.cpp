#include "tests/preload/probe_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace probe {

namespace {
int failed = 0;
}

void check(bool ok, const std::string& name, const std::string& detail) {
  if (ok) {
    std::printf("ok %s\n", name.c_str());
  } else {
    std::printf("FAIL %s: %s\n", name.c_str(), detail.c_str());
    ++failed;
  }
  std::fflush(stdout);
}

int failures() {
  return failed;
}

void note(const std::string& name, const std::string& value) {
  std::printf("%s = %s\n", name.c_str(), value.c_str());
  std::fflush(stdout);
}

sockaddr_storage address(const std::string& text, uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(sockaddr_in);
  } else {
    inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof(sockaddr_in6);
  }
  return ss;
}

std::string describe(const sockaddr_storage& ss, bool with_port) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, text, sizeof(text));
  if (ss.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, text, sizeof(text));
  std::string s = text;
  if (with_port) {
    s += ':';
    s += std::to_string(port_of(ss));
  }
  return s;
}

uint16_t port_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

int bound_udp(int family, const std::string& addr, uint16_t port, bool reuseport) {
  const int fd = socket(family, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  const int one = 1;
  if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  socklen_t len;
  sockaddr_storage ss = address(addr, port, &len);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool send_text(int fd, const std::string& addr, uint16_t port, const std::string& text) {
  socklen_t len;
  sockaddr_storage ss = address(addr, port, &len);
  return sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) ==
         static_cast<ssize_t>(text.size());
}

std::string receive_text(int fd, int timeout_ms, sockaddr_storage* from) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return {};
  char buf[2048];
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  const ssize_t n =
      recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), &len);
  if (n < 0) return {};
  if (from != nullptr) *from = ss;
  return std::string(buf, static_cast<size_t>(n));
}

bool is_socket_fd(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

std::string err(int code) {
  return code == 0 ? "0" : std::string(strerrorname_np(code));
}

}  // namespace probe
