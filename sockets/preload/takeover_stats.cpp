#include "sockets/preload/takeover_stats.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cstdlib>
#include <new>

#include "sockets/preload/env_settings.h"
#include "sockets/preload/libc_calls.h"
#include "sockets/preload/runtime.h"

namespace lrp::preload {

const char* to_string(KernelReason reason) {
  switch (reason) {
    case KernelReason::NotConfigured:
      return "not_configured";
    case KernelReason::NoPrivileges:
      return "no_privileges";
    case KernelReason::InterfaceBusy:
      return "interface_busy";
    case KernelReason::EngineError:
      return "engine_error";
    case KernelReason::ForkedChild:
      return "forked_child";
    case KernelReason::Limit:
      return "limit";
    case KernelReason::FdBudget:
      return "fd_budget";
    case KernelReason::AddressInUse:
      return "address_in_use";
    case KernelReason::OtherDevice:
      return "other_device";
    case KernelReason::ReceiveOption:
      return "receive_option";
    case KernelReason::IoUring:
      return "io_uring";
    case KernelReason::FdRange:
      return "fd_range";
    case KernelReason::Disconnected:
      return "disconnected";
    case KernelReason::Exec:
      return "exec";
    case KernelReason::Error:
      return "error";
    case KernelReason::Count:
      break;
  }
  return "unknown";
}

const char* to_string(Route route) {
  switch (route) {
    case Route::SentLrp:
      return "sent.lrp";
    case Route::SentKernelOption:
      return "sent.kernel.option";
    case Route::SentKernelCork:
      return "sent.kernel.cork";
    case Route::SentKernelFlags:
      return "sent.kernel.flags";
    case Route::SentKernelDestination:
      return "sent.kernel.destination";
    case Route::SentKernelControl:
      return "sent.kernel.control";
    case Route::SentKernelSize:
      return "sent.kernel.size";
    case Route::SentKernelBusy:
      return "sent.kernel.busy";
    case Route::ReceivedLrp:
      return "received.lrp";
    case Route::ReceivedKernel:
      return "received.kernel";
    case Route::Count:
      break;
  }
  return "unknown";
}

namespace {

[[gnu::destructor]] void write_at_exit() {
  TakeoverStats::get().flush();
}

}  // namespace

TakeoverStats& TakeoverStats::get() {
  static TakeoverStats* stats = new TakeoverStats();
  return *stats;
}

void TakeoverStats::served(const std::string& socket) {
  {
    std::lock_guard lock(mutex_);
    ++served_;
    write_file_locked();
  }
  const Settings* s = Runtime::get().settings();
  if (s != nullptr && s->verbose) Runtime::get().say(socket + " served by lrp");
}

void TakeoverStats::kernel(KernelReason reason, const std::string& socket, const std::string& why) {
  const size_t i = static_cast<size_t>(reason);
  bool say = false;
  {
    std::lock_guard lock(mutex_);
    ++kernel_[i];
    say = !said_[i];
    said_[i] = true;
    write_file_locked();
  }
  const Settings* s = Runtime::get().settings();
  if (say || (s != nullptr && s->verbose))
    Runtime::get().say(socket + " stays on the kernel: " + why + " [" + to_string(reason) +
                       (say && (s == nullptr || !s->verbose)
                            ? "; further sockets for this reason are only counted]"
                            : "]"));
}

uint64_t TakeoverStats::served_count() {
  std::lock_guard lock(mutex_);
  return served_;
}

uint64_t TakeoverStats::count(KernelReason reason) {
  std::lock_guard lock(mutex_);
  return kernel_[static_cast<size_t>(reason)];
}

void TakeoverStats::flush() {
  std::lock_guard lock(mutex_);
  bool any = served_ > 0;
  for (uint64_t k : kernel_) any = any || k > 0;
  for (const auto& r : routes_) any = any || r.value.load(std::memory_order_relaxed) > 0;
  if (any) write_file_locked();
}

void TakeoverStats::after_fork() {
  new (&mutex_) std::mutex();
  served_ = 0;
  kernel_ = {};
  said_ = {};
  for (auto& r : routes_) r.value.store(0, std::memory_order_relaxed);
}

// Rewritten whole on every change (a rename, so a reader never sees half a
// file). Changes are takeover decisions, not datagrams: rare.
void TakeoverStats::write_file_locked() {
  const char* dir = std::getenv(kEnvStatsDir);
  if (dir == nullptr || *dir == '\0') return;
  InsideLrp inside;
  const std::string base = std::string(dir) + "/lrp-preload." + std::to_string(getpid());
  const std::string tmp = base + ".tmp";
  std::string text = "served " + std::to_string(served_) + "\n";
  for (size_t i = 0; i < kernel_.size(); ++i)
    text += std::string("kernel.") + to_string(static_cast<KernelReason>(i)) + " " +
            std::to_string(kernel_[i]) + "\n";
  for (size_t i = 0; i < routes_.size(); ++i)
    text += std::string(to_string(static_cast<Route>(i))) + " " +
            std::to_string(routes_[i].value.load(std::memory_order_relaxed)) + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const bool written =
      libc().write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  libc().close(fd);
  if (written) ::rename(tmp.c_str(), base.c_str());
}

}  // namespace lrp::preload
