#include "sockets/preload/wait_policy.h"

#include "sockets/preload/runtime.h"

namespace lrp::preload {

const WaitPolicy& wait_policy() {
  static const WaitPolicy policy = [] {
    WaitPolicy p;
    if (const Settings* s = Runtime::get().settings()) {
      if (s->mode == "interrupt") p.kind = WaitPolicy::Kind::Interrupt;
      if (s->mode == "poll") p.kind = WaitPolicy::Kind::Poll;
      p.spin_ns = int64_t{s->spin_us} * 1000;
    }
    return p;
  }();
  return policy;
}

}  // namespace lrp::preload
