// preload-probe: exercises the calls the preload library intercepts.
//   preload-probe passthrough        transcript of TCP, Unix and loopback UDP
//   preload-probe semantics PORT N   checks on lrp sockets against a kernel
//                                    echo server on ports PORT..PORT+N-1
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/preload/probe_util.h"

namespace probe {
int run_passthrough();
int run_semantics(uint16_t echo, int echo_ports);
}  // namespace probe

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "passthrough") return probe::run_passthrough();
  if (what == "semantics" && argc == 4) {
    probe::run_semantics(static_cast<uint16_t>(std::atoi(argv[2])), std::atoi(argv[3]));
    std::printf("failures %d\n", probe::failures());
    return probe::failures() == 0 ? 0 : 1;
  }
  std::fprintf(stderr, "usage: %s passthrough | semantics ECHO_PORT ECHO_PORTS\n", argv[0]);
  return 2;
}
