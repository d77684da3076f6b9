// lrp-echo attached to lrpd: the same echo server on the native API, with
// the host's daemon doing the protocol work.
#pragma once

#include "apps/options.h"

namespace lrp {

// Serves o.ports through lrpd at o.lrpd, one application (weight o.weight)
// and one thread per port, until SIGINT/SIGTERM or o.duration_s; SIGUSR1
// prints "lrp-echo: received=N". Returns main()'s exit status.
int serve_on_lrpd(const EchoOptions& o);

}  // namespace lrp
