// preload-probe: exercises the calls the preload library intercepts.
//   preload-probe passthrough        transcript of TCP, Unix and loopback UDP
//   preload-probe semantics PORT N   checks on lrp sockets against a kernel
//                                    echo server on ports PORT..PORT+N-1
//   preload-probe conformance SERVER_NS CLIENT_NS IFACE
//                                    the conformance scenarios, as "R KEY: VALUE"
//                                    lines to compare between backends
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/preload/probe_util.h"

namespace probe {
int run_passthrough();
int run_semantics(uint16_t echo, int echo_ports);
namespace conf {
int run(const std::string& server_ns, const std::string& client_ns, const std::string& iface);
}
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
  std::fprintf(stderr,
               "usage: %s passthrough | semantics ECHO_PORT ECHO_PORTS | conformance SERVER_NS "
               "CLIENT_NS IFACE\n",
               argv[0]);
  return 2;
}
