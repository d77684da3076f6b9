#include "sockets/preload/io_uring_watch.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>

#include "sockets/preload/fd_table.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/runtime.h"
#include "sockets/preload/tracked_socket.h"

namespace lrp::preload {

bool process_has_io_uring() {
  InsideLrp inside;
  const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  static constexpr char kName[] = "anon_inode:[io_uring]";
  constexpr size_t kNameLen = sizeof(kName) - 1;
  char buffer[8192];
  size_t kept = 0;  // bytes carried over so a name split by a read is still found
  bool found = false;
  for (;;) {
    const ssize_t n = libc().read(fd, buffer + kept, sizeof(buffer) - kept);
    if (n <= 0) break;
    const size_t len = kept + static_cast<size_t>(n);
    if (memmem(buffer, len, kName, kNameLen) != nullptr) {
      found = true;
      break;
    }
    kept = std::min(len, kNameLen - 1);
    std::memmove(buffer, buffer + len - kept, kept);
  }
  libc().close(fd);
  return found;
}

void io_uring_started() {
  Runtime& rt = Runtime::get();
  if (rt.io_uring_seen()) return;
  rt.note_io_uring();
  std::vector<std::shared_ptr<TrackedSocket>> served;
  FdTable::get().for_each([&](int, const std::shared_ptr<TrackedSocket>& s) {
    if (s->taken() && std::find(served.begin(), served.end(), s) == served.end())
      served.push_back(s);
  });
  for (auto& s : served) s->give_back(KernelReason::IoUring, "the process made an io_uring ring");
}

}  // namespace lrp::preload

using namespace lrp::preload;

namespace {

template <class F>
F next_symbol(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

// liburing's entry points: a program linked with liburing makes its ring
// through one of these. Each forwards to the real one.
extern "C" {

int io_uring_setup(unsigned entries, void* params) {
  static const auto real = next_symbol<int (*)(unsigned, void*)>("io_uring_setup");
  if (real == nullptr) return -ENOSYS;
  const int r = real(entries, params);
  if (r >= 0) io_uring_started();
  return r;
}

int io_uring_queue_init(unsigned entries, void* ring, unsigned flags) {
  static const auto real = next_symbol<int (*)(unsigned, void*, unsigned)>("io_uring_queue_init");
  if (real == nullptr) return -ENOSYS;
  const int r = real(entries, ring, flags);
  if (r == 0) io_uring_started();
  return r;
}

int io_uring_queue_init_params(unsigned entries, void* ring, void* params) {
  static const auto real =
      next_symbol<int (*)(unsigned, void*, void*)>("io_uring_queue_init_params");
  if (real == nullptr) return -ENOSYS;
  const int r = real(entries, ring, params);
  if (r == 0) io_uring_started();
  return r;
}

int io_uring_queue_init_mem(unsigned entries, void* ring, void* params, void* buf, size_t size) {
  static const auto real =
      next_symbol<int (*)(unsigned, void*, void*, void*, size_t)>("io_uring_queue_init_mem");
  if (real == nullptr) return -ENOSYS;
  const int r = real(entries, ring, params, buf, size);
  if (r >= 0) io_uring_started();
  return r;
}

}  // extern "C"
