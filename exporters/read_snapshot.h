// Reads the live counters of an engine and (optionally) its scheduler into a
// snapshot. Runs at scrape time on the exporter's thread; the hot path only
// ever bumps its own relaxed counters.
#pragma once

#include <cstdint>

#include "exporters/snapshot.h"
#include "lrp/engine.h"
#include "sched/runtime/scheduler.h"

namespace lrp::exporters {

// Counters that could not be read (a socket closed meanwhile, a failed
// system call) are left out and counted in *read_errors.
EngineSnapshot read_snapshot(Engine& engine, const sched::Scheduler* scheduler,
                             uint64_t* read_errors);

// "7100/ipv4" for a wildcard bind, "198.18.0.1:7100" or "[2001:2::1]:7100"
// for a bound address.
std::string socket_label(const Endpoint& bound);

}  // namespace lrp::exporters
