// RLIMIT_NOFILE as the program sees it: the program reads and sets its own
// limit, never lrp's share above it (see fd_reserve.h). Every other
// resource, and prlimit on another process, goes to the C library untouched.
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sockets/preload/fd_reserve.h"

using lrp::preload::FdReserve;

namespace {

template <typename Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

bool own_files(pid_t pid, int resource) {
  return resource == RLIMIT_NOFILE && (pid == 0 || pid == getpid());
}

// rlimit and rlimit64 have the same layout on the 64-bit targets lrp builds for.
static_assert(sizeof(rlimit) == sizeof(rlimit64));

int limits(pid_t pid, int resource, const rlimit* wanted, rlimit* old) {
  if (!own_files(pid, resource)) {
    using Fn = int (*)(pid_t, __rlimit_resource, const rlimit*, rlimit*);
    static const Fn real = next<Fn>("prlimit");
    return real(pid, static_cast<__rlimit_resource>(resource), wanted, old);
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
