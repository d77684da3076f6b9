// A UDP echo server attached to lrpd through the client library, for the
// service tests: binds kernel sockets (optionally after dropping to another
// user), hands them to lrpd, optionally forks workers that serve the
// inherited sockets, and echoes until SIGTERM. Prints "ready" to stderr once
// attached and "served PID N (ring R, kernel K)" per process at the end.
//
//   lrp-service-echo --socket PATH --port P[,P] [--addr A] [--fork N]
//                    [--setuid USER] [--hold] [--name NAME] [--weight W]
//
// --hold receives zero-copy views and never hands them back (a stuck
// client), so lrpd's queues for it fill.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "service/client/client.h"

namespace {

std::atomic<bool> g_stop{false};
void on_stop(int) {
  g_stop = true;
}

struct Options {
  std::string socket_path;
  std::vector<uint16_t> ports;
  std::string addr = "0.0.0.0";
  int workers = 0;
  std::string user;
  bool hold = false;
  std::string name = "service-echo";
  uint32_t weight = 1;
};

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--socket") {
      o->socket_path = v;
    } else if (k == "--port") {
      for (size_t pos = 0; pos <= v.size();) {
        const size_t comma = v.find(',', pos);
        o->ports.push_back(static_cast<uint16_t>(std::stoi(v.substr(pos, comma - pos))));
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    } else if (k == "--addr") {
      o->addr = v;
    } else if (k == "--fork") {
      o->workers = std::stoi(v);
    } else if (k == "--setuid") {
      o->user = v;
    } else if (k == "--hold") {
      o->hold = v == "1";
    } else if (k == "--name") {
      o->name = v;
    } else if (k == "--weight") {
      o->weight = static_cast<uint32_t>(std::stoul(v));
    } else {
      return false;
    }
  }
  return !o->ports.empty();
}

int bind_udp(const std::string& addr, uint16_t port) {
  auto ip = lrp::IpAddress::parse(addr);
  if (!ip) return -1;
  const int fd = socket(ip->is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  const socklen_t len = ip->to_sockaddr(port, &ss);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    std::fprintf(stderr, "bind(): %s\n", std::strerror(errno));
    return -1;
  }
  return fd;
}

// Echoes until told to stop; returns (ring, kernel) counts.
std::pair<uint64_t, uint64_t> serve(
    lrp::service::ServiceApp& app,
    const std::vector<std::shared_ptr<lrp::service::ServiceSocket>>& socks, bool hold) {
  uint64_t ring = 0, kernel = 0;
  std::vector<lrp::service::RxDatagram> held;
  uint8_t buf[2048];
  while (!g_stop) {
    if (hold) {
      lrp::service::RxDatagram d[16];
      auto n = app.receive(d, 100);
      if (!n.ok()) continue;
      for (size_t i = 0; i < n.value(); ++i) {
        (d[i].via_kernel ? kernel : ring)++;
        held.push_back(std::move(d[i]));  // never handed back
      }
      continue;
    }
    auto info = app.receive_copy(buf, 100);
    if (!info.ok()) continue;
    (info->via_kernel ? kernel : ring)++;
    for (const auto& k : socks) {
      if (k->handle() != info->socket) continue;
      (void)k->send_to(info->source, std::span<const uint8_t>(buf, info->size));
    }
  }
  return {ring, kernel};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) {
    std::fprintf(stderr,
                 "usage: lrp-service-echo --socket PATH --port P[,P] [--addr A] "
                 "[--fork N] [--setuid USER] [--hold 1] [--name N] [--weight W]\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (!o.user.empty()) {
    const passwd* pw = getpwnam(o.user.c_str());
    if (pw == nullptr || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
      std::fprintf(stderr, "cannot become %s\n", o.user.c_str());
      return 1;
    }
  }
  lrp::service::ClientConfig cc;
  cc.socket_path = o.socket_path;
  cc.name = o.name;
  cc.weight = o.weight;
  auto client = lrp::service::ServiceClient::connect(cc);
  if (!client) {
    std::fprintf(stderr, "lrpd: %s\n", client.error().message().c_str());
    return 1;
  }
  auto app = client.value()->create_app({.name = o.name, .weight = o.weight});
  if (!app) {
    std::fprintf(stderr, "application: %s\n", app.error().message().c_str());
    return 1;
  }
  std::vector<std::shared_ptr<lrp::service::ServiceSocket>> socks;
  for (uint16_t port : o.ports) {
    const int fd = bind_udp(o.addr, port);
    if (fd < 0) return 1;
    auto k = app.value()->bind(fd);
    if (!k) {
      std::fprintf(stderr, "attach port %u: %s\n", port, k.error().message().c_str());
      return 1;
    }
    socks.push_back(k.value());
    close(fd);  // the client keeps its own reference
  }
  std::vector<pid_t> children;
  for (int w = 0; w < o.workers; ++w) {
    const pid_t pid = fork();
    if (pid == 0) {
      // Workers go with their parent, however it ends.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() == 1) _exit(1);
      auto [ring, kernel] = serve(*app.value(), socks, o.hold);
      std::fprintf(stderr, "served %d %llu (ring %llu, kernel %llu)\n", getpid(),
                   (unsigned long long)(ring + kernel), (unsigned long long)ring,
                   (unsigned long long)kernel);
      _exit(0);
    }
    children.push_back(pid);
  }
  std::fprintf(stderr, "ready\n");
  if (o.workers > 0) {
    // The parent only binds: it waits, and passes the stop on.
    while (!g_stop) pause();
    for (pid_t pid : children) kill(pid, SIGTERM);
    for (pid_t pid : children) waitpid(pid, nullptr, 0);
    return 0;
  }
  auto [ring, kernel] = serve(*app.value(), socks, o.hold);
  std::fprintf(stderr, "served %d %llu (ring %llu, kernel %llu)\n", getpid(),
               (unsigned long long)(ring + kernel), (unsigned long long)ring,
               (unsigned long long)kernel);
  return 0;
}
