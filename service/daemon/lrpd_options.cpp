#include "service/daemon/lrpd_options.h"

#include <cstdlib>
#include <sstream>

#include "cli/command_line.h"
#include "service/protocol.h"

namespace lrp::service {

static std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, sep)) out.push_back(item);
  return out;
}

static Result<int> parse_int(const std::string& text) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0 || v > 4095)
    return make_error(0, "'" + text + "' is not a CPU number");
  return static_cast<int>(v);
}

Result<std::vector<int>> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  for (const auto& part : split(text, ',')) {
    const auto dash = part.find('-');
    if (dash == std::string::npos) {
      auto c = parse_int(part);
      if (!c) return c.error();
      cpus.push_back(c.value());
      continue;
    }
    auto lo = parse_int(part.substr(0, dash));
    auto hi = parse_int(part.substr(dash + 1));
    if (!lo) return lo.error();
    if (!hi) return hi.error();
    if (hi.value() < lo.value()) return make_error(0, "range '" + part + "' is empty");
    for (int c = lo.value(); c <= hi.value(); ++c) cpus.push_back(c);
  }
  if (cpus.empty()) return make_error(0, "no CPU given");
  return cpus;
}

namespace {

cli::CommandLine lrpd_command_line(LrpdOptions* o) {
  cli::CommandLine cl("lrpd",
                      "Serves UDP on the interfaces for any number of client processes, which "
                      "attach\nthrough the control socket. Runs in the foreground; SIGINT or "
                      "SIGTERM stops it.");
  cl.option("--iface", "IF[,IF...]", "the interfaces to serve",
            [o](const std::string& text) -> Status {
              for (const auto& name : split(text, ','))
                if (!name.empty()) o->interfaces.push_back(name);
              if (o->interfaces.empty()) return make_error(0, "no interface in '" + text + "'");
              return {};
            })
      .required();
  cl.option("--socket", "PATH",
            std::string("the control socket (default: $") + kSocketEnv + " or " +
                kDefaultSocketPath + ")",
            cli::text(&o->socket_path));
  cl.option("--cpus", "LIST", "CPUs for the engine threads, e.g. 0,2-3",
            [o](const std::string& text) -> Status {
              auto cpus = parse_cpu_list(text);
              if (!cpus) return cpus.error();
              o->cpus = cpus.value();
              return {};
            });
  cl.option("--mode", "adaptive|interrupt|poll", "the engine mode (default adaptive)",
            cli::one_of(&o->mode, {"adaptive", "interrupt", "poll"}));
  cl.option("--metrics", "HOST:PORT", "serve Prometheus metrics there", cli::text(&o->metrics));
  cl.flag("--generic-xdp", "attach XDP in generic (skb) mode", &o->generic_xdp);
  return cl;
}

}  // namespace

Result<LrpdOptions> parse_lrpd_options(int argc, char** argv) {
  LrpdOptions o;
  auto outcome = lrpd_command_line(&o).parse(argc, argv);
  if (!outcome) return outcome.error();
  o.help = outcome.value() == cli::CommandLine::Outcome::Help;
  if (o.socket_path.empty()) {
    const char* env = std::getenv(kSocketEnv);
    o.socket_path = env != nullptr && *env != '\0' ? env : kDefaultSocketPath;
  }
  return o;
}

std::string lrpd_usage() {
  LrpdOptions unused;
  return lrpd_command_line(&unused).help();
}

}  // namespace lrp::service
