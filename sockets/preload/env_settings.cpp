#include "sockets/preload/env_settings.h"

#include <cstdlib>

namespace lrp::preload {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

Result<Settings> settings_from_env() {
  Settings s;
  s.iface = env(kEnvIface);
  s.in_process = !s.iface.empty();
  s.socket = env(kEnvSocket);
  if (auto m = env(kEnvMode); !m.empty()) s.mode = m;
  if (s.mode != "adaptive" && s.mode != "interrupt" && s.mode != "poll")
    return make_error(EINVAL, std::string(kEnvMode) + "='" + s.mode +
                                  "' is not one of adaptive, interrupt, poll");
  if (auto t = env(kEnvThreading); !t.empty()) s.threading = t;
  if (s.threading != "rtc" && s.threading != "dedicated")
    return make_error(
        EINVAL, std::string(kEnvThreading) + "='" + s.threading + "' is not rtc or dedicated");
  s.metrics = env(kEnvMetrics);
  s.generic_xdp = env(kEnvGenericXdp) == "1";
  s.verbose = env(kEnvVerbose) == "1";
  if (auto spin = env(kEnvSpinUs); !spin.empty()) {
    char* end = nullptr;
    const long v = std::strtol(spin.c_str(), &end, 10);
    if (end == spin.c_str() || *end != '\0' || v < 0 || v > 1'000'000)
      return make_error(EINVAL, std::string(kEnvSpinUs) + "='" + spin +
                                    "' is not a number of microseconds (0-1000000)");
    s.spin_us = static_cast<int>(v);
  }
  return s;
}

}  // namespace lrp::preload
