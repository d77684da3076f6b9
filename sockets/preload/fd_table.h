// Which of the program's fd numbers are UDP sockets the library tracks. A
// number not in the table is none of lrp's business: every call on it goes
// to libc after one atomic load.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace lrp::preload {

class TrackedSocket;

class FdTable {
 public:
  static constexpr int kMaxFd = 1 << 16;  // higher numbers are never tracked

  static FdTable& get();

  bool tracked(int fd) const {
    return fd >= 0 && fd < kMaxFd && used_[fd].load(std::memory_order_acquire);
  }
  std::shared_ptr<TrackedSocket> find(int fd);
  // False when fd is beyond kMaxFd.
  bool insert(int fd, std::shared_ptr<TrackedSocket> socket);
  // The removed socket, or null; it is destroyed when its last number goes.
  std::shared_ptr<TrackedSocket> remove(int fd);
  void for_each(const std::function<void(int, const std::shared_ptr<TrackedSocket>&)>& f);
  // Every number that names `socket`.
  std::vector<int> numbers_of(const TrackedSocket* socket);
  // After fork, in the child: the lock may have been held by a thread that
  // does not exist there.
  void reset_lock_after_fork();

 private:
  FdTable() = default;
  std::mutex mutex_;
  std::atomic<bool> used_[kMaxFd] = {};
  std::shared_ptr<TrackedSocket> sockets_[kMaxFd];
};

}  // namespace lrp::preload
