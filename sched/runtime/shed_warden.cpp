#include "sched/runtime/shed_warden.h"

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>

#include "sched/runtime/scheduler_app.h"

namespace lrp::sched {

void ShedWarden::start() {
  if (running_.exchange(true)) return;
  thread_ = std::thread([this] { loop(); });
}

void ShedWarden::stop() {
  if (!running_.exchange(false)) return;
  s_.ring_doorbell();
  if (thread_.joinable()) thread_.join();
}

void ShedWarden::loop() {
  const int period_ms =
      static_cast<int>(std::clamp<Nanos>(s_.config_.shed.raise_after / 2'000'000, 1, 50));
  const size_t ring = s_.engine_.config().rx_size;
  while (running_.load(std::memory_order_relaxed)) {
    bool watching = false;
    {
      std::lock_guard lock(s_.mutex_);
      const Nanos now = s_.clock_.now();
      for (const auto& a : s_.apps_) {
        if (a == nullptr) continue;
        size_t fullest = 0;
        for (SlotId slot : a->slots) fullest = std::max(fullest, s_.engine_.rx_pending(slot));
        s_.update_shed(*a, now, fullest, std::min<size_t>(a->spec.queue_bound, ring));
        watching = watching || fullest > 0 || a->counters.shed.load(std::memory_order_relaxed);
      }
    }
    if (watching) {
      pollfd pfd{s_.doorbell_fd_, POLLIN, 0};
      poll(&pfd, 1, period_ms);
    } else {
      epoll_event events[8];
      epoll_wait(s_.epoll_fd_, events, 8, s_.config_.sleep_timeout_ms * 10);
    }
    uint64_t value;
    (void)!read(s_.doorbell_fd_, &value, sizeof(value));
  }
}

}  // namespace lrp::sched
