#include "sockets/preload/fd_reserve.h"

#include <algorithm>
#include <cerrno>

#include "bpf/lrp_shared.h"
#include "sockets/preload/fd_table.h"

namespace lrp::preload {

namespace {

// What lrp may hold in fds at most: per socket its AF_XDP socket (in
// process) or its lrpd region, doorbell and duplicate kernel socket, the
// readiness fds of the scheduler and the receive path, and the library's
// three (hidden kernel socket, readiness epoll, held-datagram eventfd), plus
// the stack's own.
constexpr size_t kFdsPerSocket = 10;
constexpr rlim_t kFdReserve = kFdsPerSocket * LRP_MAX_SLOTS + 64;
constexpr rlim_t kMaxFd = FdTable::kMaxFd;

// The process's limit, as opposed to the program's view of it.
int process_limit(const rlimit* set, rlimit* get) {
  return kernel_prlimit(0, RLIMIT_NOFILE, set, get);
}

bool same(const rlimit& a, const rlimit& b) {
  return a.rlim_cur == b.rlim_cur && a.rlim_max == b.rlim_max;
}

}  // namespace

FdReserve& FdReserve::get() {
  static FdReserve* reserve = new FdReserve();  // never destroyed: used until exit
  return *reserve;
}

void FdReserve::reserve() {
  std::lock_guard lock(mutex_);
  if (reserved_) return;
  rlimit now{};
  if (process_limit(nullptr, &now) != 0) return;
  reserved_ = true;
  place(now);
  program_limits_follow_reserve();
}

void FdReserve::place(const rlimit& program) {
  program_ = program;
  applied_ = program;
  if (program.rlim_cur == RLIM_INFINITY || program.rlim_cur + kFdReserve > kMaxFd) {
    // A limit near or past the numbers lrp tracks: lrp takes the top of
    // what it tracks and the program keeps the rest.
    const rlim_t top = std::min(program.rlim_cur, kMaxFd);
    budget_ = kFdReserve;
    base_ = static_cast<int>(std::max<rlim_t>(3, top > kFdReserve ? top - kFdReserve : 3));
    return;
  }
  rlimit raised = program;
  raised.rlim_cur = program.rlim_cur + kFdReserve;
  bool ok = false;
  if (program.rlim_max == RLIM_INFINITY || raised.rlim_cur <= program.rlim_max) {
    ok = process_limit(&raised, nullptr) == 0;
  } else {
    raised.rlim_max = raised.rlim_cur;  // needs CAP_SYS_RESOURCE
    ok = process_limit(&raised, nullptr) == 0;
    if (!ok && program.rlim_max > program.rlim_cur) {
      raised = {program.rlim_max, program.rlim_max};
      ok = process_limit(&raised, nullptr) == 0;
    }
  }
  if (ok) {
    applied_ = raised;
    budget_ = raised.rlim_cur - program.rlim_cur;
    base_ = static_cast<int>(program.rlim_cur);
  } else {
    budget_ = program.rlim_cur / 8;
    base_ = static_cast<int>(std::max<rlim_t>(3, program.rlim_cur - program.rlim_cur / 8));
  }
}

int FdReserve::program_get(rlimit* out) {
  std::lock_guard lock(mutex_);
  rlimit now{};
  if (process_limit(nullptr, &now) != 0) return -1;
  // Someone else (prlimit from outside) changed it: that is the program's.
  *out = reserved_ && same(now, applied_) ? program_ : now;
  return 0;
}

int FdReserve::program_set(const rlimit& wanted) {
  std::lock_guard lock(mutex_);
  if (process_limit(&wanted, nullptr) != 0) return -1;
  if (reserved_) place(wanted);
  return 0;
}

}  // namespace lrp::preload
