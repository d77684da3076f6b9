#include "sockets/preload/fd_table.h"

#include <new>

namespace lrp::preload {

FdTable& FdTable::get() {
  // Never destroyed: other threads may still make calls while the process exits.
  static FdTable* table = new FdTable();
  return *table;
}

std::shared_ptr<TrackedSocket> FdTable::find(int fd) {
  if (!tracked(fd)) return nullptr;
  std::lock_guard lock(mutex_);
  return sockets_[fd];
}

bool FdTable::insert(int fd, std::shared_ptr<TrackedSocket> socket) {
  if (fd < 0 || fd >= kMaxFd) return false;
  std::lock_guard lock(mutex_);
  sockets_[fd] = std::move(socket);
  used_[fd].store(true, std::memory_order_release);
  return true;
}

std::shared_ptr<TrackedSocket> FdTable::remove(int fd) {
  if (!tracked(fd)) return nullptr;
  std::lock_guard lock(mutex_);
  used_[fd].store(false, std::memory_order_release);
  return std::move(sockets_[fd]);
}

void FdTable::for_each(const std::function<void(int, const std::shared_ptr<TrackedSocket>&)>& f) {
  std::lock_guard lock(mutex_);
  for (int fd = 0; fd < kMaxFd; ++fd)
    if (used_[fd].load(std::memory_order_relaxed)) f(fd, sockets_[fd]);
}

std::vector<int> FdTable::numbers_of(const TrackedSocket* socket) {
  std::vector<int> numbers;
  std::lock_guard lock(mutex_);
  for (int fd = 0; fd < kMaxFd; ++fd)
    if (used_[fd].load(std::memory_order_relaxed) && sockets_[fd].get() == socket)
      numbers.push_back(fd);
  return numbers;
}

void FdTable::reset_lock_after_fork() {
  new (&mutex_) std::mutex();
}

}  // namespace lrp::preload
