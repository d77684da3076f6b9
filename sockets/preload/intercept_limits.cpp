// RLIMIT_NOFILE as the program sees it: the program reads and sets its own
// limit, never lrp's share above it (see fd_reserve.h). Every other
// resource, and prlimit on another process, goes to the kernel untouched.
// This file is built without sanitizer instrumentation (see CMakeLists.txt):
// a sanitizer runtime reads its limits through these functions before its
// shadow memory exists, so they touch nothing instrumented until lrp has
// placed its share.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "sockets/preload/fd_reserve.h"

namespace lrp::preload {

namespace {
// Set once, never cleared; a plain flag read with an atomic builtin, so the
// check needs nothing from the C++ runtime.
int follow_reserve = 0;
}  // namespace

// The system call itself: the C library's syscall() is interposed by this
// library (intercept_fds.cpp), and that one is instrumented.
int kernel_prlimit(pid_t pid, int resource, const rlimit* set, rlimit* get) {
  long result = 0;
#if defined(__x86_64__)
  register long fourth asm("r10") = reinterpret_cast<long>(get);
  asm volatile("syscall"
               : "=a"(result)
               : "0"(static_cast<long>(SYS_prlimit64)), "D"(static_cast<long>(pid)),
                 "S"(static_cast<long>(resource)), "d"(set), "r"(fourth)
               : "rcx", "r11", "memory");
#elif defined(__aarch64__)
  register long number asm("x8") = SYS_prlimit64;
  register long first asm("x0") = pid;
  register long second asm("x1") = resource;
  register const rlimit* third asm("x2") = set;
  register rlimit* fourth asm("x3") = get;
  asm volatile("svc 0"
               : "+r"(first)
               : "r"(number), "r"(second), "r"(third), "r"(fourth)
               : "memory");
  result = first;
#else
  // Elsewhere through syscall(): correct, but not before a sanitizer's start-up.
  return static_cast<int>(syscall(SYS_prlimit64, pid, resource, set, get));
#endif
  if (result < 0) {
    errno = static_cast<int>(-result);
    return -1;
  }
  return 0;
}

void program_limits_follow_reserve() {
  __atomic_store_n(&follow_reserve, 1, __ATOMIC_RELEASE);
}

}  // namespace lrp::preload

using lrp::preload::FdReserve;
using lrp::preload::kernel_prlimit;

namespace {

bool own_files(pid_t pid, int resource) {
  return resource == RLIMIT_NOFILE && (pid == 0 || pid == getpid());
}

// rlimit and rlimit64 have the same layout on the 64-bit targets lrp builds for.
static_assert(sizeof(rlimit) == sizeof(rlimit64));

int limits(pid_t pid, int resource, const rlimit* wanted, rlimit* old) {
  // Straight to the kernel until lrp holds a share: these run before any
  // library is set up (a sanitizer runtime reads its limits first thing).
  if (!own_files(pid, resource) ||
      __atomic_load_n(&lrp::preload::follow_reserve, __ATOMIC_ACQUIRE) == 0) {
    return kernel_prlimit(pid, resource, wanted, old);
  }
  FdReserve& reserve = FdReserve::get();
  rlimit before{};
  if (old != nullptr && reserve.program_get(&before) != 0) return -1;
  if (wanted != nullptr && reserve.program_set(*wanted) != 0) return -1;
  if (old != nullptr) *old = before;
  return 0;
}

}  // namespace

extern "C" {

int getrlimit(__rlimit_resource_t resource, rlimit* out) {
  return limits(0, resource, nullptr, out);
}

int getrlimit64(__rlimit_resource_t resource, rlimit64* out) {
  return limits(0, resource, nullptr, reinterpret_cast<rlimit*>(out));
}

int setrlimit(__rlimit_resource_t resource, const rlimit* wanted) {
  return limits(0, resource, wanted, nullptr);
}

int setrlimit64(__rlimit_resource_t resource, const rlimit64* wanted) {
  return limits(0, resource, reinterpret_cast<const rlimit*>(wanted), nullptr);
}

int prlimit(pid_t pid, __rlimit_resource resource, const rlimit* wanted, rlimit* old) {
  return limits(pid, resource, wanted, old);
}

int prlimit64(pid_t pid, __rlimit_resource resource, const rlimit64* wanted, rlimit64* old) {
  return limits(pid, resource, reinterpret_cast<const rlimit*>(wanted),
                reinterpret_cast<rlimit*>(old));
}

}  // extern "C"
