#include "sockets/launcher/launch_options.h"

#include <limits.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "exporters/listen_address.h"
#include "service/client/client.h"
#include "service/protocol.h"

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
                      "Runs CMD with its UDP sockets served by lrp: by lrpd, the host's daemon "
                      "(no root\nneeded), or with --in-process by an engine in CMD's own process "
                      "on IF (as root).\nEvery other socket stays on the kernel.");
  cl.option("--socket", "PATH",
            "lrpd's control socket (default: $LRP_SOCKET or " +
                std::string(service::kDefaultSocketPath) + ")",
            cli::text(&o->socket));
  cl.flag("--in-process", "serve in CMD's process instead of through lrpd", &o->in_process);
  cl.option("--iface", "IF", "with --in-process: the interface (default: $LRP_IFACE)",
            cli::text(&o->iface));
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
  if (o.command.empty()) return make_error(0, "no program given after --");
  if (o.in_process) {
    if (o.iface.empty())
      return make_error(0, "no interface given: use --iface IF (or set LRP_IFACE)");
    if (!o.socket.empty()) return make_error(0, "--socket names lrpd: not with --in-process");
    return {};
  }
  const bool engine_options = !o.mode.empty() || !o.threading.empty() || !o.metrics.empty() ||
                              o.generic_xdp || (!o.iface.empty() && !std::getenv("LRP_IFACE"));
  if (engine_options)
    return make_error(0,
                      "--iface, --mode, --threading, --metrics and --generic set up an engine "
                      "in the served process: add --in-process (lrpd's own options say how it "
                      "serves)");
  return {};
}

std::optional<int> parse_launch_options(int argc, char** argv, LaunchOptions* out) {
  const cli::CommandLine cl = launch_command_line(out);
  if (auto exit = cl.parse_or_exit(argc, argv)) return exit;
  if (Status st = check_launch_options(*out); !st) return cl.fail(st.error().context);
  return std::nullopt;
}

// Whether lrpd answers on its socket: a connect, nothing more.
Status lrpd_answers(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_error("open a socket to reach lrpd");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(fd);
  if (rc == 0) return {};
  std::string why = std::strerror(err);
  if (err == EACCES) why = "permission denied (lrpd's socket is mode 0666 when lrpd made it)";
  return make_error(err, "lrpd does not answer at " + path + " (" + why +
                             "). Start it as root with `lrpd --iface IF` (or `systemctl start "
                             "lrpd`), or serve in this program's process as root with "
                             "`lrp-run --in-process --iface IF -- CMD`");
}

Result<std::string> check_can_launch(const LaunchOptions& o) {
  if (!o.in_process) {
    const std::string path = o.socket.empty() ? service::default_socket_path() : o.socket;
    LRP_TRY(lrpd_answers(path));
  } else if (geteuid() != 0) {
    return make_error(0,
                      "must run as root: lrp-run --in-process attaches an XDP program and "
                      "opens AF_XDP sockets on " +
                          o.iface + " (without root, let lrpd serve: drop --in-process)");
  } else if (if_nametoindex(o.iface.c_str()) == 0) {
    return make_error(0, "interface '" + o.iface + "' does not exist in this network namespace");
  }
  const std::string program = resolve_program(o.command[0]);
  if (program.empty())
    return make_error(0, "program '" + o.command[0] + "' not found" +
                             (o.command[0].find('/') == std::string::npos ? " on PATH" : ""));
  return program;
}

Result<std::string> find_preload_library(bool in_process) {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return errno_error("read /proc/self/exe to find the preload library");
  self[n] = '\0';
  std::string dir(self);
  dir.erase(dir.rfind('/'));
  // Installed first: a build tree has no LIBDIR/lrp/ beside its bin/.
  const std::string name = in_process ? "liblrp-preload-in-process.so" : "liblrp-preload.so";
  const std::string candidates[] = {dir + "/" LRP_PRELOAD_FROM_BIN "/" + name,
                                    dir + "/../lib/" + name};
  char real[PATH_MAX];
  for (const std::string& library : candidates)
    if (realpath(library.c_str(), real) != nullptr) return std::string(real);
  return make_error(ENOENT, "preload library not found beside lrp-run: neither " + candidates[0] +
                                " (installed) nor " + candidates[1] + " (build tree)");
}

}  // namespace lrp::launcher
