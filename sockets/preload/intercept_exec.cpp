// exec: a served socket's number names a readiness fd that means nothing to
// the new program, and the kernel socket behind it is close-on-exec. So
// before the new image starts, every socket number that survives the exec
// names its kernel socket again (see TrackedSocket::prepare_exec): an inetd
// style server that hands a bound socket to the program it execs keeps
// working. glibc's exec functions call execve internally, out of reach of
// interposition, so each is provided here.
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "sockets/preload/fd_table.h"
#include "sockets/preload/tracked_socket.h"

using namespace lrp::preload;

namespace {

template <class F>
F next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

void prepare_exec() {
  std::vector<std::shared_ptr<TrackedSocket>> sockets;
  FdTable::get().for_each([&](int, const std::shared_ptr<TrackedSocket>& s) {
    if (std::find(sockets.begin(), sockets.end(), s) == sockets.end()) sockets.push_back(s);
  });
  for (auto& s : sockets) s->prepare_exec();
}

// The arguments of an execl-style call, up to its terminating null.
std::vector<char*> arguments(const char* first, va_list ap) {
  std::vector<char*> args{const_cast<char*>(first)};
  while (char* a = va_arg(ap, char*)) args.push_back(a);
  args.push_back(nullptr);
  return args;
}

}  // namespace

extern "C" {

int execve(const char* path, char* const argv[], char* const envp[]) {
  static const auto real = next<int (*)(const char*, char* const*, char* const*)>("execve");
  prepare_exec();
  return real(path, argv, envp);
}

int execv(const char* path, char* const argv[]) {
  return execve(path, argv, environ);
}

int execvpe(const char* file, char* const argv[], char* const envp[]) {
  static const auto real = next<int (*)(const char*, char* const*, char* const*)>("execvpe");
  prepare_exec();
  return real(file, argv, envp);
}

int execvp(const char* file, char* const argv[]) {
  return execvpe(file, argv, environ);
}

int fexecve(int fd, char* const argv[], char* const envp[]) {
  static const auto real = next<int (*)(int, char* const*, char* const*)>("fexecve");
  prepare_exec();
  return real(fd, argv, envp);
}

int execl(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  std::vector<char*> args = arguments(arg, ap);
  va_end(ap);
  return execve(path, args.data(), environ);
}

int execlp(const char* file, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  std::vector<char*> args = arguments(arg, ap);
  va_end(ap);
  return execvpe(file, args.data(), environ);
}

int execle(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  std::vector<char*> args = arguments(arg, ap);
  char* const* envp = va_arg(ap, char* const*);
  va_end(ap);
  return execve(path, args.data(), envp);
}

}  // extern "C"
