#include "tests/exporters/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace lrp::test {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool wait_for(int fd, short events, int64_t deadline) {
  pollfd p{fd, events, 0};
  const int64_t left = deadline - now_ms();
  return left > 0 && poll(&p, 1, static_cast<int>(left)) == 1;
}

// Header block plus body length, or npos when the headers do not say.
size_t content_length(std::string headers, size_t header_bytes) {
  for (char& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t at = headers.find("\r\ncontent-length:");
  if (at == std::string::npos) return std::string::npos;
  return header_bytes + std::strtoul(headers.c_str() + at + 17, nullptr, 10);
}

}  // namespace

HttpResponse http_get(const std::string& host, uint16_t port, const std::string& path,
                      int timeout_ms) {
  HttpResponse r;
  const int64_t deadline = now_ms() + timeout_ms;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    r.error = std::string("socket: ") + std::strerror(errno);
    return r;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  if (rc != 0 && errno == EINPROGRESS && wait_for(fd, POLLOUT, deadline)) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    rc = err == 0 ? 0 : -1;
    errno = err;
  }
  if (rc != 0) {
    r.error = "connect " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
    close(fd);
    return r;
  }
  const std::string request =
      "GET " + path + " HTTP/1.0\r\nHost: " + host + ":" + std::to_string(port) + "\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    r.error = "send request";
    close(fd);
    return r;
  }
  // Read until the server closes or, when it says how long the body is, until
  // the body is complete (civetweb waits for the client to close first).
  std::string raw;
  char buf[16384];
  size_t header_end = std::string::npos;
  size_t want = std::string::npos;
  while (want == std::string::npos || raw.size() < want) {
    if (!wait_for(fd, POLLIN, deadline)) {
      r.error = "timeout reading " + path;
      close(fd);
      return r;
    }
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
    if (header_end == std::string::npos && (header_end = raw.find("\r\n\r\n")) != std::string::npos)
      want = content_length(raw.substr(0, header_end), header_end + 4);
  }
  close(fd);
  if (raw.rfind("HTTP/", 0) != 0 || header_end == std::string::npos) {
    r.error = "not an HTTP response";
    return r;
  }
  r.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  r.body = raw.substr(header_end + 4);
  return r;
}

std::string url_encode(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace lrp::test
