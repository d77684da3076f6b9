// The kernel's NAPI instances over generic netlink (the "netdev" family):
// which NAPI serves a receive queue, and its deferral and IRQ-suspension
// settings (irq-suspend-timeout needs Linux 6.13). Used by kernel_assist.h.
#pragma once

#include <cstdint>

#include "lrp/result.h"

namespace lrp::sched {

struct NapiSettings {
  uint32_t defer_hard_irqs = 0;
  uint64_t gro_flush_timeout_ns = 0;
  uint64_t irq_suspend_timeout_ns = 0;
  bool has_irq_suspend = false;  // the kernel reported the attribute
};

class NetdevNetlink {
 public:
  // ENOENT: the kernel has no netdev family (before Linux 6.5 or so).
  static Result<NetdevNetlink> open();
  NetdevNetlink(NetdevNetlink&& other) noexcept;
  NetdevNetlink& operator=(NetdevNetlink&& other) noexcept;
  NetdevNetlink(const NetdevNetlink&) = delete;
  NetdevNetlink& operator=(const NetdevNetlink&) = delete;
  ~NetdevNetlink();

  // The NAPI instance serving receive queue `queue`; 0 when it has none.
  Result<uint32_t> queue_napi(int ifindex, uint32_t queue);
  Result<NapiSettings> napi(uint32_t napi_id);
  // Sets the three values (irq-suspend-timeout only when with_irq_suspend).
  Status set_napi(uint32_t napi_id, const NapiSettings& s, bool with_irq_suspend);

 private:
  NetdevNetlink(int fd, uint16_t family) : fd_(fd), family_(family) {}
  template <class OnReply>
  Status transact(void* request, size_t length, OnReply&& on_reply, const char* what);

  int fd_ = -1;
  uint16_t family_ = 0;
  uint32_t sequence_ = 0;
};

}  // namespace lrp::sched
