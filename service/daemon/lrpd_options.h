// lrpd's command line, parsed in one place.
#pragma once

#include <string>
#include <vector>

#include "lrp/result.h"

namespace lrp::service {

struct LrpdOptions {
  std::vector<std::string> interfaces;  // --iface IF[,IF...]
  std::string socket_path;              // --socket PATH (default: LRP_SOCKET or /run/lrp/lrpd.sock)
  std::vector<int> cpus;                // --cpus 0,2-3
  std::string mode = "adaptive";        // --mode adaptive|interrupt|poll
  std::string metrics;                  // --metrics HOST:PORT
  bool generic_xdp = false;             // --generic-xdp
  bool help = false;
};

Result<LrpdOptions> parse_lrpd_options(int argc, char** argv);
std::string lrpd_usage();
// "0,2-3" -> {0, 2, 3}
Result<std::vector<int>> parse_cpu_list(const std::string& text);

}  // namespace lrp::service
