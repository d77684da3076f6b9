#include "tests/preload/conformance_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <poll.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace probe::conf {

Context& context() {
  static Context c;
  return c;
}

InClient::InClient() {
  if (setns(context().client_ns_fd, CLONE_NEWNET) != 0) std::perror("setns client");
}

InClient::~InClient() {
  if (setns(context().server_ns_fd, CLONE_NEWNET) != 0) std::perror("setns server");
}

void result(const std::string& key, const std::string& value) {
  std::printf("R %s: %s\n", key.c_str(), value.c_str());
  std::fflush(stdout);
}

void served(const std::string& key, int fd) {
  std::printf("S %s: %s\n", key.c_str(), fd >= 0 && !is_socket(fd) ? "served" : "kernel");
  std::fflush(stdout);
}

std::string join(std::initializer_list<std::string> parts) {
  std::string s;
  for (const std::string& p : parts) s += (s.empty() ? "" : " ") + p;
  return s;
}

std::string err_name(int code) {
  const char* name = strerrorname_np(code);
  return name != nullptr ? name : std::to_string(code);
}

std::string rv(long r) {
  return r < 0 ? "-1 " + err_name(errno) : std::to_string(r);
}

std::string addr_text(const sockaddr* sa, socklen_t len) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (sa == nullptr || len < sizeof(sa_family_t)) return "none";
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port)) + "/fl" +
           std::to_string(in6->sin6_flowinfo) + "/sc" + std::to_string(in6->sin6_scope_id);
  }
  return "family" + std::to_string(sa->sa_family) + "/len" + std::to_string(len);
}

sockaddr_storage sockaddr_of(const std::string& addr, uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof(sockaddr_in);
  } else {
    inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof(sockaddr_in6);
  }
  return ss;
}

bool is_socket(int fd) {
  struct stat st {};
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1'000'000;
}

timespec realtime() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

void sleep_ms(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1'000'000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

int udp(int family) {
  return socket(family, SOCK_DGRAM, 0);
}

int bind_to(int fd, const std::string& addr, uint16_t port) {
  socklen_t len;
  sockaddr_storage ss = sockaddr_of(addr, port, &len);
  return bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
}

int set_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof(value));
}

namespace {

std::string flags_text(int flags) {
  std::string s;
  const std::pair<int, const char*> names[] = {
      {MSG_TRUNC, "TRUNC"},          {MSG_CTRUNC, "CTRUNC"}, {MSG_ERRQUEUE, "ERRQUEUE"},
      {MSG_CMSG_CLOEXEC, "CLOEXEC"}, {MSG_OOB, "OOB"},       {MSG_EOR, "EOR"}};
  for (const auto& [bit, name] : names) {
    if ((flags & bit) != 0) {
      s += (s.empty() ? "" : "|") + std::string(name);
      flags &= ~bit;
    }
  }
  if (flags != 0) s += (s.empty() ? "" : "|") + std::to_string(flags);
  return s.empty() ? "0" : s;
}

std::string printable(const char* data, size_t n) {
  std::string s;
  for (size_t i = 0; i < n && i < 48; ++i) s += (data[i] >= 0x20 && data[i] < 0x7f) ? data[i] : '.';
  if (n > 48) s += "...";
  return s;
}

std::string ts_judgement(const timespec& t, const Window* w) {
  if (w == nullptr) return "ts";
  const auto ns = [](const timespec& x) { return x.tv_sec * 1'000'000'000LL + x.tv_nsec; };
  // The kernel's stamp is the arrival on this host, a little before the
  // receive call returns; allow the clock's microsecond rounding.
  const long long v = ns(t), lo = ns(w->t0) - 1000, hi = ns(w->t1) + 1000;
  if (v >= lo && v <= hi) return "in-window";
  return v < lo ? "early-by-" + std::to_string((lo - v) / 1000) + "us"
                : "late-by-" + std::to_string((v - hi) / 1000) + "us";
}

std::string cmsg_text(const cmsghdr* c, const Window* window) {
  const std::string head = std::to_string(c->cmsg_level) + "/" + std::to_string(c->cmsg_type) +
                           "/" + std::to_string(c->cmsg_len) + ":";
  const size_t n = c->cmsg_len >= CMSG_LEN(0) ? c->cmsg_len - CMSG_LEN(0) : 0;
  const unsigned char* d = CMSG_DATA(c);
  char text[INET6_ADDRSTRLEN] = "?";
  const int ifindex = context().ifindex;
  const auto ifname = [&](int i) { return i == ifindex ? std::string("IF") : std::to_string(i); };
  if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && n >= sizeof(in_pktinfo)) {
    in_pktinfo p;
    std::memcpy(&p, d, sizeof(p));
    std::string s = head + "if=" + ifname(p.ipi_ifindex);
    inet_ntop(AF_INET, &p.ipi_spec_dst, text, sizeof(text));
    s += ",spec=" + std::string(text);
    inet_ntop(AF_INET, &p.ipi_addr, text, sizeof(text));
    return s + ",addr=" + text;
  }
  if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && n >= sizeof(in6_pktinfo)) {
    in6_pktinfo p;
    std::memcpy(&p, d, sizeof(p));
    inet_ntop(AF_INET6, &p.ipi6_addr, text, sizeof(text));
    return head + "if=" + ifname(static_cast<int>(p.ipi6_ifindex)) + ",addr=" + text;
  }
  if (c->cmsg_level == SOL_SOCKET &&
      (c->cmsg_type == SO_TIMESTAMP_OLD || c->cmsg_type == SO_TIMESTAMP_NEW) && n >= 16) {
    timeval tv;
    std::memcpy(&tv, d, sizeof(tv));
    return head + ts_judgement(timespec{tv.tv_sec, tv.tv_usec * 1000}, window);
  }
  if (c->cmsg_level == SOL_SOCKET &&
      (c->cmsg_type == SO_TIMESTAMPNS_OLD || c->cmsg_type == SO_TIMESTAMPNS_NEW) && n >= 16) {
    timespec ts;
    std::memcpy(&ts, d, sizeof(ts));
    return head + ts_judgement(ts, window);
  }
  if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_ORIGDSTADDR) ||
      (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR)) {
    sockaddr_storage ss{};
    std::memcpy(&ss, d, std::min(n, sizeof(ss)));
    return head + addr_text(reinterpret_cast<sockaddr*>(&ss), static_cast<socklen_t>(n));
  }
  if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
      (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
    sock_extended_err e;
    std::memcpy(&e, d, std::min(n, sizeof(e)));
    std::string s = head + "errno=" + err_name(static_cast<int>(e.ee_errno)) +
                    ",origin=" + std::to_string(e.ee_origin) +
                    ",type=" + std::to_string(e.ee_type) + ",code=" + std::to_string(e.ee_code);
    if (n >= sizeof(e) + sizeof(sockaddr_in)) {
      sockaddr_storage ss{};
      std::memcpy(&ss, d + sizeof(e), std::min(n - sizeof(e), sizeof(ss)));
      s += ",offender=" +
           addr_text(reinterpret_cast<sockaddr*>(&ss), static_cast<socklen_t>(n - sizeof(e)));
    }
    return s;
  }
  std::string hex;
  char b[4];
  for (size_t i = 0; i < n && i < 32; ++i) {
    std::snprintf(b, sizeof(b), "%02x", d[i]);
    hex += b;
  }
  return head + hex;
}

}  // namespace

std::string describe_msg(long r, int saved_errno, const msghdr& msg, const char* data,
                         const Window* window) {
  if (r < 0) return "-1 " + err_name(saved_errno);
  std::string s = "ret=" + std::to_string(r) + " data=" +
                  printable(data, std::min<size_t>(static_cast<size_t>(r), msg.msg_iov[0].iov_len));
  if (msg.msg_name != nullptr)
    s += " name=" +
         addr_text(static_cast<const sockaddr*>(msg.msg_name),
                   std::min<socklen_t>(msg.msg_namelen, sizeof(sockaddr_storage))) +
         " namelen=" + std::to_string(msg.msg_namelen);
  s += " flags=" + flags_text(msg.msg_flags) + " controllen=" + std::to_string(msg.msg_controllen);
  if (msg.msg_control != nullptr && msg.msg_controllen >= sizeof(cmsghdr)) {
    msghdr m = msg;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c))
      s += " [" + cmsg_text(c, window) + "]";
  }
  return s;
}

std::string recv_line(int fd, int flags, size_t buffer, size_t control, bool with_name,
                      const Window* window) {
  std::vector<char> data(std::max<size_t>(buffer, 1));
  std::vector<char> cbuf(control);
  sockaddr_storage from{};
  iovec iov{data.data(), buffer};
  msghdr msg{};
  if (with_name) {
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
  }
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control > 0 ? cbuf.data() : nullptr;
  msg.msg_controllen = control;
  errno = 0;
  const long r = recvmsg(fd, &msg, flags);
  const int saved = errno;
  Window w;
  if (window != nullptr) {
    w = *window;
    w.t1 = realtime();
  }
  return describe_msg(r, saved, msg, data.data(), window != nullptr ? &w : nullptr);
}

Peer::Peer(int family, uint16_t port, const char* address) : family_(family), port_(port) {
  InClient in;
  fd_ = socket(family, SOCK_DGRAM, 0);
  if (family == AF_INET) {
    set_int(fd_, IPPROTO_IP, IP_RECVTOS, 1);
    set_int(fd_, IPPROTO_IP, IP_RECVTTL, 1);
  } else {
    set_int(fd_, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
    set_int(fd_, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
  }
  const std::string addr = address != nullptr ? address : (family == AF_INET ? kClient4 : kClient6);
  if (bind_to(fd_, addr, port) != 0) std::perror(("peer bind " + addr).c_str());
}

Peer::~Peer() {
  if (fd_ >= 0) close(fd_);
}

long Peer::send(const std::string& addr, uint16_t port, const std::string& payload, int tos,
                int ttl) {
  socklen_t len;
  sockaddr_storage to = sockaddr_of(addr, port, &len);
  iovec iov{const_cast<char*>(payload.data()), payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int)) * 2] = {};
  msghdr msg{};
  msg.msg_name = &to;
  msg.msg_namelen = len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  size_t used = 0;
  if (tos >= 0 || ttl >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    const bool v4 = family_ == AF_INET;
    if (tos >= 0) {
      c->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
      c->cmsg_type = v4 ? IP_TOS : IPV6_TCLASS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &tos, sizeof(int));
      used += CMSG_SPACE(sizeof(int));
      c = CMSG_NXTHDR(&msg, c);
    }
    if (ttl >= 0) {
      c->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
      c->cmsg_type = v4 ? IP_TTL : IPV6_HOPLIMIT;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &ttl, sizeof(int));
      used += CMSG_SPACE(sizeof(int));
    }
    msg.msg_controllen = used;
  }
  return sendmsg(fd_, &msg, 0);
}

std::vector<Peer::Got> Peer::drain(int quiet_ms, int total_ms) {
  std::vector<Got> got;
  const int64_t end = now_ms() + total_ms;
  while (now_ms() < end) {
    if (!readable(fd_, quiet_ms)) break;
    char data[70000];
    char control[256];
    sockaddr_storage from{};
    iovec iov{data, sizeof(data)};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const long r = recvmsg(fd_, &msg, MSG_DONTWAIT);
    if (r < 0) break;
    Got g;
    g.payload.assign(data, static_cast<size_t>(r));
    g.from = addr_text(reinterpret_cast<sockaddr*>(&from), msg.msg_namelen);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      int v = 0;
      if (c->cmsg_len >= CMSG_LEN(1)) {
        if (c->cmsg_len >= CMSG_LEN(sizeof(int)))
          std::memcpy(&v, CMSG_DATA(c), sizeof(int));
        else
          v = *CMSG_DATA(c);
      }
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS))
        g.tos = c->cmsg_level == IPPROTO_IP ? (v & 0xff) : v;
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT))
        g.ttl = v;
    }
    got.push_back(g);
  }
  return got;
}

std::string Peer::summary(const std::vector<Got>& got, bool with_source) {
  std::string s = std::to_string(got.size()) + " x";
  for (const Got& g : got) {
    s += " [" + std::to_string(g.payload.size()) + ":" +
         (g.payload.size() <= 16 ? g.payload : g.payload.substr(0, 8) + "...");
    if (with_source) s += " from " + g.from;
    s += " tos " + std::to_string(g.tos) + " ttl " + std::to_string(g.ttl) + "]";
  }
  return s;
}

}  // namespace probe::conf
