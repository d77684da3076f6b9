// lrp-run: starts an unmodified program with the lrp preload library, so its
// UDP sockets on the given interface are served by lrp (the `onload` model).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sockets/launcher/launch_options.h"
#include "sockets/launcher/program_kind.h"
#include "sockets/preload/env_settings.h"

namespace {

int fail(const lrp::Error& e, int status) {
  std::fprintf(stderr, "lrp-run: %s\n", e.message().c_str());
  return status;
}

void set_env(const char* name, const std::string& value) {
  if (!value.empty()) setenv(name, value.c_str(), 1);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = lrp::launcher::parse_launch_options(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "lrp-run: %s\n%s", parsed.error().context.c_str(),
                 lrp::launcher::launch_usage(argv[0]).c_str());
    return 2;
  }
  const auto& o = parsed.value();
  auto program = lrp::launcher::check_can_launch(o);
  if (!program) return fail(program.error(), 1);
  // A program the library cannot reach still runs, on the kernel; say so.
  if (auto kind = lrp::launcher::inspect_program(program.value())) {
    const std::string note = lrp::launcher::unsupported_note(program.value(), kind.value());
    if (!note.empty()) std::fprintf(stderr, "lrp-run: %s\n", note.c_str());
  }
  auto library = lrp::launcher::find_preload_library();
  if (!library) return fail(library.error(), 1);

  namespace p = lrp::preload;
  set_env(p::kEnvIface, o.iface);
  set_env(p::kEnvMode, o.mode);
  set_env(p::kEnvThreading, o.threading);
  set_env(p::kEnvMetrics, o.metrics);
  if (o.generic_xdp) setenv(p::kEnvGenericXdp, "1", 1);
  if (o.verbose) setenv(p::kEnvVerbose, "1", 1);
  std::string preload = library.value();
#ifdef LRP_SANITIZER_RUNTIME
  preload = std::string(LRP_SANITIZER_RUNTIME) + ":" + preload;
#endif
  if (const char* old = std::getenv("LD_PRELOAD"); old != nullptr && *old != '\0')
    preload += std::string(":") + old;
  setenv("LD_PRELOAD", preload.c_str(), 1);

  std::vector<char*> args;
  for (const auto& a : o.command) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(program.value().c_str(), args.data());
  return fail(lrp::errno_error("run " + program.value()), 127);
}
