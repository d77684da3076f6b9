// preload-probe: exercises the calls the preload library intercepts.
//   preload-probe passthrough        transcript of TCP, Unix and loopback UDP
//   preload-probe semantics PORT N   checks on lrp sockets against a kernel
//                                    echo server on ports PORT..PORT+N-1
//   preload-probe conformance SERVER_NS CLIENT_NS IFACE
//                                    the conformance scenarios, as "R KEY: VALUE"
//                                    lines to compare between backends
//   preload-probe many ... | exec-server ...   see probe_scale.cpp
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/preload/probe_util.h"

namespace probe {
int run_passthrough();
int run_semantics(uint16_t echo, int echo_ports);
namespace conf {
int run(const std::string& server_ns, const std::string& client_ns, const std::string& iface);
bool open_context(const std::string& server_ns, const std::string& client_ns,
                  const std::string& iface);
int run_many(int n, uint16_t base);
int run_exec_server(uint16_t port);
int run_exec_helper(uint16_t port);
int run_unprivileged(uint16_t port);
int run_exec_inherit(uint16_t port);
int run_exec_inherited();
int run_iouring_inline(uint16_t port);
}  // namespace conf
}  // namespace probe

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "passthrough") return probe::run_passthrough();
  if (what == "semantics" && argc == 4) {
    probe::run_semantics(static_cast<uint16_t>(std::atoi(argv[2])), std::atoi(argv[3]));
    std::printf("failures %d\n", probe::failures());
    return probe::failures() == 0 ? 0 : 1;
  }
  if (what == "conformance" && argc == 5) return probe::conf::run(argv[2], argv[3], argv[4]);
  if (what == "many" && argc == 7) {
    if (!probe::conf::open_context(argv[2], argv[3], argv[4])) return 2;
    return probe::conf::run_many(std::atoi(argv[5]), static_cast<uint16_t>(std::atoi(argv[6])));
  }
  if (what == "exec-server" && argc == 6) {
    if (!probe::conf::open_context(argv[2], argv[3], argv[4])) return 2;
    return probe::conf::run_exec_server(static_cast<uint16_t>(std::atoi(argv[5])));
  }
  if (what == "unprivileged" && argc == 6) {
    if (!probe::conf::open_context(argv[2], argv[3], argv[4])) return 2;
    return probe::conf::run_unprivileged(static_cast<uint16_t>(std::atoi(argv[5])));
  }
  if (what == "exec-inherit" && argc == 6) {
    if (!probe::conf::open_context(argv[2], argv[3], argv[4])) return 2;
    return probe::conf::run_exec_inherit(static_cast<uint16_t>(std::atoi(argv[5])));
  }
  if (what == "exec-inherited") return probe::conf::run_exec_inherited();
  if (what == "iouring-inline" && argc == 6) {
    if (!probe::conf::open_context(argv[2], argv[3], argv[4])) return 2;
    return probe::conf::run_iouring_inline(static_cast<uint16_t>(std::atoi(argv[5])));
  }
  if (what == "exec-helper" && argc == 3)
    return probe::conf::run_exec_helper(static_cast<uint16_t>(std::atoi(argv[2])));
  std::fprintf(
      stderr,
      "usage: %s passthrough | semantics ECHO_PORT ECHO_PORTS | conformance SERVER_NS "
      "CLIENT_NS IFACE | many SERVER_NS CLIENT_NS IFACE N PORT | exec-server SERVER_NS "
      "CLIENT_NS IFACE PORT | unprivileged|exec-inherit|iouring-inline SERVER_NS CLIENT_NS "
      "IFACE PORT\n",
      argv[0]);
  return 2;
}
