#include "apps/options.h"

#include <pthread.h>
#include <sched.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace lrp {

Result<std::vector<uint16_t>> parse_port_list(const std::string& text) {
  std::vector<uint16_t> ports;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    long port = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || port < 1 || port > 65535)
      return make_error(EINVAL, "--port: '" + item + "' is not a port number (1-65535)");
    ports.push_back(static_cast<uint16_t>(port));
  }
  if (ports.empty()) return make_error(EINVAL, "--port: no port given");
  return ports;
}

static Result<long long> parse_number(const char* option, const std::string& text) {
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0)
    return make_error(EINVAL, std::string(option) + ": '" + text + "' is not a number >= 0");
  return v;
}

Result<EchoOptions> parse_echo_options(int argc, char** argv, bool needs_iface) {
  EchoOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= argc) return make_error(EINVAL, arg + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--iface") {
      auto v = value();
      if (!v) return v.error();
      o.iface = v.value();
    } else if (arg == "--port") {
      auto v = value();
      if (!v) return v.error();
      auto ports = parse_port_list(v.value());
      if (!ports) return ports.error();
      o.ports = ports.value();
    } else if (arg == "--work-ns" || arg == "--cpu" || arg == "--duration") {
      auto v = value();
      if (!v) return v.error();
      auto n = parse_number(arg.c_str(), v.value());
      if (!n) return n.error();
      if (arg == "--work-ns") o.work_ns = n.value();
      if (arg == "--cpu") o.cpu = static_cast<int>(n.value());
      if (arg == "--duration") o.duration_s = static_cast<double>(n.value());
    } else if (arg == "--mode") {
      auto v = value();
      if (!v) return v.error();
      o.mode = v.value();
      if (o.mode != "adaptive" && o.mode != "interrupt" && o.mode != "poll" && o.mode != "eager")
        return make_error(
            EINVAL, "--mode: '" + o.mode + "' is not one of adaptive, interrupt, poll, eager");
    } else if (arg == "--threading") {
      auto v = value();
      if (!v) return v.error();
      o.threading = v.value();
      if (o.threading != "rtc" && o.threading != "dedicated")
        return make_error(EINVAL, "--threading: '" + o.threading + "' is not rtc or dedicated");
    } else if (arg == "--metrics") {
      auto v = value();
      if (!v) return v.error();
      o.metrics = v.value();
      if (o.metrics.find(':') == std::string::npos)
        return make_error(EINVAL, "--metrics: '" + o.metrics + "' is not HOST:PORT");
    } else if (arg == "--reply") {
      auto v = value();
      if (!v) return v.error();
      if (v.value() == "echo")
        o.reply = ReplyRule::Echo;
      else if (v.value() == "sockperf")
        o.reply = ReplyRule::Sockperf;
      else
        return make_error(EINVAL, "--reply: '" + v.value() + "' is not echo or sockperf");
    } else if (arg == "--forward") {
      auto v = value();
      if (!v) return v.error();
      o.forward = v.value();
      if (auto e = parse_endpoint(o.forward); !e)
        return make_error(EINVAL, "--forward: " + e.error().message());
    } else if (arg == "--app-per-port") {
      o.app_per_port = true;
    } else if (arg == "--sink") {
      o.sink = true;
    } else if (arg == "--busy-poll") {
      o.busy_poll = true;
    } else if (arg == "--generic") {
      o.generic_xdp = true;
    } else if (arg == "--quiet") {
      o.quiet = true;
    } else {
      return make_error(EINVAL, "unknown option '" + arg + "'");
    }
  }
  if (needs_iface && o.iface.empty()) return make_error(EINVAL, "--iface IF is required");
  if (o.ports.empty()) return make_error(EINVAL, "--port P[,P...] is required");
  if (!o.forward.empty() && o.ports.size() != 2)
    return make_error(EINVAL,
                      "--forward needs exactly two ports: receive on the first, send "
                      "from the second");
  if (!o.forward.empty() && o.app_per_port)
    return make_error(EINVAL, "--forward and --app-per-port do not combine");
  return o;
}

std::string echo_usage(const char* program, bool lrp) {
  std::string u = std::string("usage: ") + program;
  if (lrp) u += " --iface IF";
  u += " --port P[,P...] [--work-ns N]";
  if (lrp)
    u += " [--mode adaptive|interrupt|poll|eager] [--threading rtc|dedicated] [--generic] "
         "[--busy-poll]";
  u += " [--metrics HOST:PORT] [--cpu N] [--duration S] [--sink] [--quiet]"
       " [--reply echo|sockperf] [--app-per-port] [--forward ADDR:PORT]\n";
  return u;
}

Result<Endpoint> parse_endpoint(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    return make_error(EINVAL, "'" + text + "' is not ADDR:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto addr = IpAddress::parse(host);
  if (!addr) return make_error(EINVAL, "'" + text + "': '" + host + "' is not an address");
  auto port = parse_port_list(text.substr(colon + 1));
  if (!port || port.value().size() != 1) return make_error(EINVAL, "'" + text + "': bad port");
  return Endpoint{addr.value(), port.value()[0]};
}

Status pin_to_cpu(int cpu) {
  if (cpu < 0) return {};
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (err != 0) return make_error(err, "pin to CPU " + std::to_string(cpu));
  return {};
}

}  // namespace lrp
