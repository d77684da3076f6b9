// What the runtime does for each queue, for tests that drive one queue's
// scheduler by hand: a socket opened on the interface and served for an
// application, and the reverse.
#pragma once

#include "lrp/interface.h"
#include "sched/runtime/scheduler.h"

namespace lrp::test {

inline Result<SlotId> open_scheduled(Interface& iface, sched::Scheduler& s, sched::AppId app,
                                     const BindSpec& bind, const SocketOptions& options = {}) {
  auto slot = iface.open_socket(bind, options);
  if (!slot) return slot.error();
  Status st = s.attach_socket(app, slot.value());
  if (!st.ok()) {
    (void)iface.close_socket(slot.value());
    return st.error();
  }
  return slot;
}

inline Status close_scheduled(Interface& iface, sched::Scheduler& s, sched::AppId app,
                              SlotId slot) {
  LRP_TRY(s.detach_socket(app, slot));
  return iface.close_socket(slot);
}

// Removes the application and closes its sockets.
inline Status remove_scheduled_app(Interface& iface, sched::Scheduler& s, sched::AppId app) {
  std::vector<SlotId> slots;
  for (const auto& info : s.apps())
    if (info.id == app) slots = info.slots;
  LRP_TRY(s.remove_app(app));
  for (SlotId slot : slots) LRP_TRY(iface.close_socket(slot));
  return {};
}

}  // namespace lrp::test
