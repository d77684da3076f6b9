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
    // An empty entry is the current directory.
    std::string candidate = end > start ? dirs.substr(start, end - start) : std::string(".");
    candidate += '/';
    candidate += name;
    if (is_executable_file(candidate)) return candidate;
    start = end + 1;
  }
  return {};
}

}  // namespace

cli::CommandLine launch_command_line(LaunchOptions* o) {
  if (const char* env_iface = std::getenv("LRP_IFACE")) o->iface = env_iface;
  cli::CommandLine cl("lrp-run",
                      "Runs CMD with its UDP sockets on IF served by lrp (AF_XDP); every other "
                      "socket\nstays on the kernel.");
  cl.option("--iface", "IF", "the interface (default: $LRP_IFACE)", cli::text(&o->iface));
  cl.option("--mode", "adaptive|interrupt|poll", "the engine mode (default adaptive)",
            cli::one_of(&o->mode, {"adaptive", "interrupt", "poll"}));
  cl.option("--threading", "rtc|dedicated",
            "run to completion (default) or a dedicated engine thread",
            cli::one_of(&o->threading, {"rtc", "dedicated"}));
  cl.option("--metrics", "HOST:PORT", "serve Prometheus metrics there",
            [o](const std::string& text) -> Status {
              auto address = exporters::parse_listen_address(text);
              if (!address) return Error{EINVAL, address.error().context};
              o->metrics = text;
              return {};
            });
  cl.flag("--generic", "attach XDP in generic (skb) mode", &o->generic_xdp);
  cl.flag("--verbose", "the library says which sockets it serves", &o->verbose);
  cl.command("CMD ARGS...", "the program to run and its arguments", &o->command);
  return cl;
}

Status check_launch_options(const LaunchOptions& o) {
  if (o.iface.empty())
    return make_error(0, "no interface given: use --iface IF (or set LRP_IFACE)");
  if (o.command.empty()) return make_error(0, "no program given after --");
  return {};
}

std::optional<int> parse_launch_options(int argc, char** argv, LaunchOptions* out) {
  const cli::CommandLine cl = launch_command_line(out);
  if (auto exit = cl.parse_or_exit(argc, argv)) return exit;
  if (Status st = check_launch_options(*out); !st) return cl.fail(st.error().context);
  return std::nullopt;
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
  // Installed first: a build tree has no LIBDIR/lrp/ beside its bin/.
  const std::string candidates[] = {dir + "/" LRP_PRELOAD_FROM_BIN "/liblrp-preload.so",
                                    dir + "/../lib/liblrp-preload.so"};
  char real[PATH_MAX];
  for (const std::string& library : candidates)
    if (realpath(library.c_str(), real) != nullptr) return std::string(real);
  return make_error(ENOENT, "preload library not found beside lrp-run: neither " + candidates[0] +
                                " (installed) nor " + candidates[1] + " (build tree)");
}

}  // namespace lrp::launcher
