// lrp-run's command line: the settings for the preload library and the
// program to run under it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/command_line.h"
#include "lrp/result.h"

namespace lrp::launcher {

struct LaunchOptions {
  // lrpd (the default) or an engine in the served process (--in-process).
  bool in_process = false;
  std::string socket;  // lrpd's control socket; empty: $LRP_SOCKET or the default
  std::string iface;
  std::string mode;       // empty: the library's default
  std::string threading;  // empty: the library's default
  std::string metrics;    // HOST:PORT, empty: no exporter
  bool generic_xdp = false;
  bool verbose = false;
  std::vector<std::string> command;  // CMD ARGS...
};

// lrp-run's command line, storing into *out (LRP_IFACE is read first).
cli::CommandLine launch_command_line(LaunchOptions* out);
// The checks after parsing: an interface and a program were given.
Status check_launch_options(const LaunchOptions& options);
// Parses `lrp-run [options] -- CMD ARGS...` into *out. Returns nothing when
// lrp-run should go on, or the status main() returns at once: 0 after
// --help, 2 after a bad command line (the reason and the usage printed).
std::optional<int> parse_launch_options(int argc, char** argv, LaunchOptions* out);

// Checks that need the system: with lrpd, that it answers on its socket;
// in process, root and the interface in this network namespace; the program
// on PATH. Returns the program's path.
Result<std::string> check_can_launch(const LaunchOptions& options);

// The preload library, found from the launcher's own path: in the build tree
// BIN/../lib/, once installed PREFIX/LIBDIR/lrp/. liblrp-preload.so serves
// through lrpd and carries no engine; liblrp-preload-in-process.so has the
// engine (and the metrics endpoint).
Result<std::string> find_preload_library(bool in_process);

}  // namespace lrp::launcher
