#include "service/daemon/lrpd_options.h"

#include <cstdlib>
#include <sstream>

#include "service/protocol.h"

namespace lrp::service {

static std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

static Result<int> parse_int(const std::string& text, const std::string& what) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0 || v > 4095)
    return make_error(0, what + " '" + text + "' is not a CPU number");
  return static_cast<int>(v);
}

Result<std::vector<int>> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  for (const auto& part : split(text, ',')) {
    const auto dash = part.find('-');
    if (dash == std::string::npos) {
      auto c = parse_int(part, "--cpus");
      if (!c) return c.error();
      cpus.push_back(c.value());
      continue;
    }
    auto lo = parse_int(part.substr(0, dash), "--cpus");
    auto hi = parse_int(part.substr(dash + 1), "--cpus");
    if (!lo) return lo.error();
    if (!hi) return hi.error();
    if (hi.value() < lo.value()) return make_error(0, "--cpus range '" + part + "' is empty");
    for (int c = lo.value(); c <= hi.value(); ++c) cpus.push_back(c);
  }
  if (cpus.empty()) return make_error(0, "--cpus needs at least one CPU");
  return cpus;
}

Result<LrpdOptions> parse_lrpd_options(int argc, char** argv) {
  LrpdOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= argc) return make_error(0, arg + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else if (arg == "--generic-xdp") {
      o.generic_xdp = true;
    } else if (arg == "--iface" || arg == "--socket" || arg == "--cpus" || arg == "--mode" ||
               arg == "--metrics") {
      auto v = value();
      if (!v) return v.error();
      if (arg == "--iface") {
        for (const auto& name : split(v.value(), ','))
          if (!name.empty()) o.interfaces.push_back(name);
      } else if (arg == "--socket") {
        o.socket_path = v.value();
      } else if (arg == "--cpus") {
        auto cpus = parse_cpu_list(v.value());
        if (!cpus) return cpus.error();
        o.cpus = cpus.value();
      } else if (arg == "--mode") {
        o.mode = v.value();
        if (o.mode != "adaptive" && o.mode != "interrupt" && o.mode != "poll")
          return make_error(0, "--mode '" + o.mode + "' is not adaptive, interrupt or poll");
      } else {
        o.metrics = v.value();
      }
    } else {
      return make_error(0, "unknown argument '" + arg + "'");
    }
  }
  if (!o.help && o.interfaces.empty()) return make_error(0, "--iface is required");
  if (o.socket_path.empty()) {
    const char* env = std::getenv(kSocketEnv);
    o.socket_path = env != nullptr && *env != '\0' ? env : kDefaultSocketPath;
  }
  return o;
}

std::string lrpd_usage() {
  return "usage: lrpd --iface IF[,IF...] [--socket PATH] [--cpus LIST] "
         "[--mode adaptive|interrupt|poll] [--metrics HOST:PORT] [--generic-xdp]\n"
         "  Serves UDP on the interfaces for any number of client processes, which attach\n"
         "  through the control socket (default " +
         std::string(kDefaultSocketPath) +
         ", or LRP_SOCKET). Runs in the foreground;\n"
         "  SIGINT or SIGTERM stops it.\n";
}

}  // namespace lrp::service
