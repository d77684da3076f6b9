#include "tests/support/privileges.h"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace lrp::test {

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}

std::string missing_privileges() {
  if (geteuid() != 0) return "needs root (namespaces, XDP, AF_XDP)";
  // Try a throw-away network namespace in a child so this process is untouched.
  pid_t pid = fork();
  if (pid == 0) _exit(unshare(CLONE_NEWNET) == 0 ? 0 : 1);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "cannot create a network namespace (unshare CLONE_NEWNET failed)";
  }
  return {};
}

}  // namespace lrp::test
