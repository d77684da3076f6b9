#include "sockets/launcher/launch_options.h"

#include <limits.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "exporters/listen_address.h"

namespace lrp::launcher {

namespace {

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// The path execvp would run, or empty.
std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return is_executable_file(name) ? name : std::string();
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    start = end + 1;
  }
  return {};
}

}  // namespace

std::string launch_usage(const char* program) {
  return std::string("usage: ") + program +
         " --iface IF [--mode adaptive|interrupt|poll] [--threading rtc|dedicated]\n"
         "       [--metrics HOST:PORT] [--generic] [--verbose] -- CMD ARGS...\n"
         "Runs CMD with its UDP sockets on IF served by lrp (AF_XDP); every other socket\n"
         "stays on the kernel. The interface may also come from LRP_IFACE.\n";
}

Result<LaunchOptions> parse_launch_options(int argc, char** argv) {
  LaunchOptions o;
  if (const char* env_iface = std::getenv("LRP_IFACE")) o.iface = env_iface;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    const bool takes_value =
        arg == "--iface" || arg == "--mode" || arg == "--threading" || arg == "--metrics";
    if (takes_value) {
      if (i + 1 >= argc) return make_error(EINVAL, arg + ": a value is required");
      const std::string value = argv[++i];
      if (arg == "--iface") o.iface = value;
      if (arg == "--mode") o.mode = value;
      if (arg == "--threading") o.threading = value;
      if (arg == "--metrics") o.metrics = value;
    } else if (arg == "--generic") {
      o.generic_xdp = true;
    } else if (arg == "--verbose") {
      o.verbose = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return make_error(EINVAL, "unknown option '" + arg + "'");
    } else {
      break;  // the command, without a "--" before it
    }
  }
  for (; i < argc; ++i) o.command.emplace_back(argv[i]);
  if (o.iface.empty())
    return make_error(EINVAL, "no interface given: use --iface IF (or set LRP_IFACE)");
  if (!o.mode.empty() && o.mode != "adaptive" && o.mode != "interrupt" && o.mode != "poll")
    return make_error(EINVAL, "--mode: '" + o.mode + "' is not one of adaptive, interrupt, poll");
  if (!o.threading.empty() && o.threading != "rtc" && o.threading != "dedicated")
    return make_error(EINVAL, "--threading: '" + o.threading + "' is not rtc or dedicated");
  if (!o.metrics.empty()) {
    auto address = exporters::parse_listen_address(o.metrics);
    if (!address) return Error{EINVAL, "--metrics: " + address.error().context};
  }
  if (o.command.empty()) return make_error(EINVAL, "no program given after --");
  return o;
}

Result<std::string> check_can_launch(const LaunchOptions& o) {
  if (geteuid() != 0)
    return make_error(0,
                      "must run as root: lrp-run attaches an XDP program and opens AF_XDP "
                      "sockets on " +
                          o.iface);
  if (if_nametoindex(o.iface.c_str()) == 0)
    return make_error(0, "interface '" + o.iface + "' does not exist in this network namespace");
  const std::string program = resolve_program(o.command[0]);
  if (program.empty())
    return make_error(0, "program '" + o.command[0] + "' not found" +
                             (o.command[0].find('/') == std::string::npos ? " on PATH" : ""));
  return program;
}

Result<std::string> find_preload_library() {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return errno_error("read /proc/self/exe to find the preload library");
  self[n] = '\0';
  std::string dir(self);
  dir.erase(dir.rfind('/'));
  const std::string library = dir + "/../lib/liblrp-preload.so";
  char real[PATH_MAX];
  if (realpath(library.c_str(), real) == nullptr)
    return errno_error("preload library " + library + " (expected beside lrp-run's bin/)");
  return std::string(real);
}

}  // namespace lrp::launcher
