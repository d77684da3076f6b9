// lrp-run's command line: the settings for the preload library and the
// program to run under it.
#pragma once

#include <string>
#include <vector>

#include "lrp/result.h"

namespace lrp::launcher {

struct LaunchOptions {
  std::string iface;
  std::string mode;       // empty: the library's default
  std::string threading;  // empty: the library's default
  std::string metrics;    // HOST:PORT, empty: no exporter
  bool generic_xdp = false;
  bool verbose = false;
  std::vector<std::string> command;  // CMD ARGS...
};

// Parses `lrp-run [options] -- CMD ARGS...`; the error says which option and why.
Result<LaunchOptions> parse_launch_options(int argc, char** argv);
std::string launch_usage(const char* program);

// Checks that need the system: root, the interface in this network
// namespace, the program on PATH. Returns the program's path.
Result<std::string> check_can_launch(const LaunchOptions& options);

// The preload library beside the launcher: BIN/../lib/liblrp-preload.so.
Result<std::string> find_preload_library();

}  // namespace lrp::launcher
