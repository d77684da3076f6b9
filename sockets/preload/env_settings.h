// How lrp-run hands its settings to the preload library in the served
// process: environment variables, one name per setting, read once.
#pragma once

#include <string>

#include "lrp/result.h"

namespace lrp::preload {

inline constexpr const char* kEnvIface = "LRP_IFACE";
inline constexpr const char* kEnvMode = "LRP_MODE";               // adaptive | interrupt | poll
inline constexpr const char* kEnvThreading = "LRP_THREADING";     // rtc | dedicated
inline constexpr const char* kEnvMetrics = "LRP_METRICS";         // HOST:PORT, unset = off
inline constexpr const char* kEnvGenericXdp = "LRP_GENERIC_XDP";  // "1": skb-mode XDP
inline constexpr const char* kEnvSpinUs =
    "LRP_SPIN_US";  // adaptive: spin this long before sleeping
inline constexpr const char* kEnvVerbose = "LRP_VERBOSE";  // "1": say which sockets lrp takes
// A directory: the library keeps DIR/lrp-preload.PID with its takeover counts.
inline constexpr const char* kEnvStatsDir = "LRP_STATS_DIR";

struct Settings {
  std::string iface;
  std::string mode = "adaptive";
  std::string threading = "rtc";
  std::string metrics;
  bool generic_xdp = false;
  int spin_us = 50;
  bool verbose = false;
};

// Reads and checks the variables; the error names the variable and the value.
Result<Settings> settings_from_env();

}  // namespace lrp::preload
