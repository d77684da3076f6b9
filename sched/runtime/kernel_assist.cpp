#include "sched/runtime/kernel_assist.h"

#include <sys/ioctl.h>

#include <cstdio>
#include <set>

namespace lrp::sched {

namespace {

// From the kernel's include/uapi/linux/eventpoll.h (Linux 6.9).
struct EpollParams {
  uint32_t busy_poll_usecs;
  uint16_t busy_poll_budget;
  uint8_t prefer_busy_poll;
  uint8_t pad;
};
static_assert(sizeof(EpollParams) == 8);
constexpr unsigned long kEpiocSetParams = _IOW(0x8A, 0x01, EpollParams);

// How long one busy-poll call may spin in the kernel; the policy decides
// how often there is one.
constexpr uint32_t kBusyPollUsecs = 20;
// IRQs stay suspended this long after a look that found work: longer than
// a batch's work takes, short enough that a stalled waiter costs little.
constexpr uint64_t kIrqSuspendNs = 20'000'000;

// One line per interface and process, not one per queue.
void say_once(const std::string& ifname, const std::string& line) {
  static std::mutex mutex;
  static std::set<std::string> said;
  std::lock_guard lock(mutex);
  if (!said.insert(ifname).second) return;
  std::fprintf(stderr, "lrp: %s\n", line.c_str());
}

}  // namespace

const char* to_string(KernelAssist assist) {
  switch (assist) {
    case KernelAssist::Unknown:
      return "unknown";
    case KernelAssist::None:
      return "none";
    case KernelAssist::BusyPoll:
      return "busy-poll";
    case KernelAssist::IrqSuspend:
      return "irq-suspend";
  }
  return "unknown";
}

KernelAssistant::KernelAssistant(Engine& engine, const WaitConfig& wait, uint32_t budget,
                                 bool enabled, bool force_busy_poll, EngineCounters& counters)
    : engine_(engine),
      wait_(wait),
      budget_(budget),
      enabled_(enabled),
      force_busy_poll_(force_busy_poll),
      counters_(counters) {}

KernelAssistant::~KernelAssistant() {
  if (!restore_) return;
  auto nl = NetdevNetlink::open();
  if (nl) (void)nl.value().set_napi(napi_, saved_, saved_irq_suspend_);
}

bool KernelAssistant::probe_queue() {
  if (!enabled_ || probed_ || settled()) return false;
  probed_ = true;
  auto nl = NetdevNetlink::open();
  if (!nl) return false;
  auto napi = nl.value().queue_napi(engine_.ifindex(), engine_.queue());
  if (!napi || napi.value() == 0) return false;
  settle(napi.value(), "netdev queue-get");
  return true;
}

bool KernelAssistant::on_first_packet(SlotId slot) {
  if (settled()) return false;
  if (!enabled_ && !force_busy_poll_) return false;
  auto id = engine_.napi_id(slot);
  const uint32_t napi = id.ok() ? id.value() : 0;
  settle(napi, napi != 0 ? "SO_INCOMING_NAPI_ID"
                         : "SO_INCOMING_NAPI_ID is 0 after the first packet and netdev "
                           "queue-get names none");
  return true;
}

void KernelAssistant::settle(uint32_t napi, const std::string& source) {
  const std::string where = engine_.config().ifname + " queue " + std::to_string(engine_.queue());
  napi_ = napi;
  if (napi == 0) {
    level_ = KernelAssist::None;
    counters_.busy_poll_unavailable.store(true, std::memory_order_relaxed);
    summary_ = where + ": no NAPI id (" + source +
               "): kernel busy polling and IRQ suspension unavailable; waiting by lrp's own "
               "policy alone";
  } else if (!enabled_) {
    level_ = KernelAssist::BusyPoll;  // asked for by the user
    summary_ = where + ": NAPI " + std::to_string(napi) + " (" + source + "): busy polling";
  } else {
    level_ = KernelAssist::BusyPoll;
    std::string irq = "IRQ suspension unavailable";
    auto nl = NetdevNetlink::open();
    if (nl) {
      auto old = nl.value().napi(napi);
      NapiSettings s;
      // The deferral the policy allows, as the kernel's safety net when the
      // waiter stops looking: interrupts stay off while it keeps finding work.
      s.defer_hard_irqs = wait_.defer_misses;
      s.gro_flush_timeout_ns = static_cast<uint64_t>(wait_.defer_max);
      s.irq_suspend_timeout_ns = kIrqSuspendNs;
      if (old) {
        Status st = nl.value().set_napi(napi, s, old.value().has_irq_suspend);
        if (st.ok()) {
          restore_ = true;
          saved_ = old.value();
          saved_irq_suspend_ = old.value().has_irq_suspend;
          if (old.value().has_irq_suspend) {
            level_ = KernelAssist::IrqSuspend;
            irq = "IRQ suspension on (irq-suspend-timeout " + std::to_string(kIrqSuspendNs / 1000) +
                  " us)";
          } else {
            irq += " (kernel before 6.13); deferred hard IRQs on";
          }
        } else {
          irq += " (" + st.error().message() + ")";
        }
      } else {
        irq += " (" + old.error().message() + ")";
      }
    } else {
      irq += " (" + nl.error().message() + ")";
    }
    summary_ = where + ": NAPI " + std::to_string(napi) + " (" + source +
               "): preferred busy polling on; " + irq;
  }
  counters_.kernel_assist.store(level(), std::memory_order_relaxed);
  report();
}

void KernelAssistant::report() {
  say_once(engine_.config().ifname, summary_);
}

Status KernelAssistant::apply_socket(SlotId slot) {
  if (!busy_polling()) return {};
  return engine_.enable_busy_poll(slot, budget_);
}

void KernelAssistant::apply_epoll(int epfd) {
  if (level() < KernelAssist::BusyPoll || epfd < 0) return;
  EpollParams p{kBusyPollUsecs, static_cast<uint16_t>(budget_), 1, 0};
  // Kernels before 6.9 refuse the request: then the sockets' own busy
  // polling is all there is.
  (void)ioctl(epfd, kEpiocSetParams, &p);
}

}  // namespace lrp::sched
