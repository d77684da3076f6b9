// A UDP echo server on the native API served by lrpd, for the service
// tests: binds its sockets (optionally after dropping to another user),
// optionally forks workers that serve the inherited sockets, and echoes
// until SIGTERM. Prints "ready" to stderr once attached and "served PID N
// (ring R, kernel K)" per process at the end: R through lrpd, K through the
// kernel sockets (from this host, or while lrpd was away).
//
//   lrp-service-echo --socket PATH --port P[,P] [--addr A] [--fork N]
//                    [--setuid USER] [--hold 1] [--name NAME] [--weight W]
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

#include "sockets/api/lrp_sockets.h"

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

// Echoes until told to stop; returns (ring, kernel) counts.
std::pair<uint64_t, uint64_t> serve(
    lrp::sockets::Application& app,
    const std::vector<std::unique_ptr<lrp::sockets::UdpSocket>>& socks, bool hold) {
  uint64_t ring = 0, kernel = 0;
  uint8_t buf[2048];
  while (!g_stop) {
    if (hold) {
      lrp::Datagram d[16];
      auto n = app.receive(d, 100);
      if (!n.ok()) continue;
      for (size_t i = 0; i < n.value(); ++i)
        (d[i].queue == lrp::sockets::kKernelQueue ? kernel : ring)++;  // never handed back
      continue;
    }
    auto info = app.receive_copy(buf, 100, /*want_local=*/true);
    if (!info.ok()) continue;
    (info->through_kernel ? kernel : ring)++;
    for (const auto& k : socks) {
      if (k->slot() != info->slot) continue;
      const lrp::IpAddress* from = info->local ? &info->local->addr : nullptr;
      (void)k->send_to(info->source, std::span<const uint8_t>(buf, info->size), from);
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
  lrp::sockets::StackConfig config;
  config.lrpd_socket = o.socket_path;
  config.name = o.name;
  auto stack = lrp::sockets::Stack::open(config);
  if (!stack) {
    std::fprintf(stderr, "lrpd: %s\n", stack.error().message().c_str());
    return 1;
  }
  auto app = stack.value()->create_application({.name = o.name, .weight = o.weight});
  if (!app) {
    std::fprintf(stderr, "application: %s\n", app.error().message().c_str());
    return 1;
  }
  auto address = lrp::IpAddress::parse(o.addr);
  if (!address) return 1;
  std::vector<std::unique_ptr<lrp::sockets::UdpSocket>> socks;
  for (uint16_t port : o.ports) {
    auto k = app.value()->open_udp(lrp::BindSpec{address.value(), port, std::nullopt});
    if (!k) {
      std::fprintf(stderr, "bind(): port %u: %s\n", port, k.error().message().c_str());
      return 1;
    }
    socks.push_back(std::move(k.value()));
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
