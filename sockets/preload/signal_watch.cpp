#include "sockets/preload/signal_watch.h"

#include <dlfcn.h>
#include <signal.h>

#include <cstring>

namespace lrp::preload {

namespace {

// Per thread: the handler runs in the thread the kernel delivered the signal
// to. Initial-exec TLS: no allocation on first use inside a signal handler.
[[gnu::tls_model("initial-exec")]] thread_local uint64_t any_count = 0;
[[gnu::tls_model("initial-exec")]] thread_local uint64_t interrupting_count = 0;

struct Installed {
  std::atomic<void*> handler{nullptr};  // the program's handler (either form)
  std::atomic<int> flags{0};
};
Installed installed[NSIG];

using SigactionFn = int (*)(int, const struct sigaction*, struct sigaction*);

SigactionFn real_sigaction() {
  static const SigactionFn fn = reinterpret_cast<SigactionFn>(dlsym(RTLD_NEXT, "sigaction"));
  return fn;
}

void trampoline(int sig, siginfo_t* info, void* context) {
  const int flags = installed[sig].flags.load(std::memory_order_relaxed);
  // A compiler barrier each side: a waiting call in this thread reads the
  // counts between its looks at the rings.
  std::atomic_signal_fence(std::memory_order_seq_cst);
  ++any_count;
  if ((flags & SA_RESTART) == 0) ++interrupting_count;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  void* h = installed[sig].handler.load(std::memory_order_relaxed);
  if ((flags & SA_SIGINFO) != 0)
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(h)(sig, info, context);
  else
    reinterpret_cast<void (*)(int)>(h)(sig);
}

bool is_function(const struct sigaction* act) {
  if ((act->sa_flags & SA_SIGINFO) != 0) return act->sa_sigaction != nullptr;
  return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN && act->sa_handler != nullptr;
}

}  // namespace

SignalCounts signal_counts() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  return {any_count, interrupting_count};
}

}  // namespace lrp::preload

using namespace lrp::preload;

extern "C" {

int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  SigactionFn real = real_sigaction();
  if (sig <= 0 || sig >= NSIG) return real(sig, act, old);
  const void* prev_handler = installed[sig].handler.load();
  const int prev_flags = installed[sig].flags.load();
  int r;
  if (act != nullptr && is_function(act)) {
    struct sigaction wrapped = *act;
    installed[sig].flags.store(act->sa_flags);
    installed[sig].handler.store((act->sa_flags & SA_SIGINFO) != 0
                                     ? reinterpret_cast<void*>(act->sa_sigaction)
                                     : reinterpret_cast<void*>(act->sa_handler));
    wrapped.sa_sigaction = trampoline;
    wrapped.sa_flags |= SA_SIGINFO;
    r = real(sig, &wrapped, old);
  } else {
    r = real(sig, act, old);
  }
  // The program sees its own handler, never the wrapper.
  if (r == 0 && old != nullptr && (old->sa_flags & SA_SIGINFO) != 0 &&
      old->sa_sigaction == trampoline) {
    old->sa_flags = prev_flags;
    if ((prev_flags & SA_SIGINFO) != 0)
      old->sa_sigaction =
          reinterpret_cast<void (*)(int, siginfo_t*, void*)>(const_cast<void*>(prev_handler));
    else
      old->sa_handler = reinterpret_cast<void (*)(int)>(const_cast<void*>(prev_handler));
  }
  return r;
}

// glibc's signal() installs through an internal sigaction, out of reach of
// the one above, so it is provided here with glibc's BSD semantics.
sighandler_t signal(int sig, sighandler_t handler) {
  struct sigaction act {};
  struct sigaction old {};
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  sigaddset(&act.sa_mask, sig);
  act.sa_flags = SA_RESTART;
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

}  // extern "C"
