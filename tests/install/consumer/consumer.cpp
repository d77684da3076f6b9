// A program of another project, built against the installed lrp: it names a
// socket option, opens an in-process stack on an interface that does not
// exist (no privileges needed; it goes through the engine's interface
// lookup) and an lrpd stack on a socket where no lrpd listens.
#include <cerrno>
#include <cstdio>
#include <string>

#include "sockets/api/lrp_sockets.h"

int main() {
  auto option = lrp::sockets::parse_option("weight");
  if (!option || std::string(lrp::sockets::to_string(option.value())) != "weight") {
    std::fprintf(stderr, "consumer: parse_option(\"weight\") failed\n");
    return 1;
  }
  lrp::sockets::StackConfig config;
  config.in_process = true;
  config.ifname = "lrpnosuch0";
  auto stack = lrp::sockets::Stack::open(config);
  if (stack) {
    std::fprintf(stderr, "consumer: opened a stack on a missing interface\n");
    return 1;
  }
  if (stack.error().code != ENODEV) {
    std::fprintf(stderr, "consumer: expected ENODEV, got: %s\n", stack.error().message().c_str());
    return 1;
  }
  std::printf("consumer: ok: %s\n", stack.error().message().c_str());
  lrp::sockets::StackConfig lrpd;
  lrpd.lrpd_socket = "/nonexistent/lrpd.sock";
  auto attached = lrp::sockets::Stack::open(lrpd);
  if (attached || attached.error().code != ENOENT) {
    std::fprintf(stderr, "consumer: expected ENOENT without lrpd\n");
    return 1;
  }
  std::printf("consumer: ok: %s\n", attached.error().message().c_str());
  return 0;
}
