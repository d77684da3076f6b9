// Which CPU serves which receive queue. A queue's engine thread belongs on
// the CPU that takes the queue's interrupts (its data is warm there); a
// device without per-queue interrupts (veth, tun) gets the allowed CPUs
// round-robin.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lrp/result.h"

namespace lrp::runtime {

// "0-3,6" -> {0, 1, 2, 3, 6}. EINVAL for anything else, naming the bad part.
Result<std::vector<int>> parse_cpu_list(const std::string& text);

// The CPUs this process may run on (its affinity mask).
std::vector<int> allowed_cpus();

// The CPUs of the queue's interrupt (its smp_affinity_list), found through
// the device's MSI interrupts and their names in /proc/interrupts; empty
// when the queue has no interrupt of its own. `proc_root` is for tests.
std::vector<int> queue_irq_cpus(const std::string& ifname, uint32_t queue,
                                const std::string& proc_root = "/proc",
                                const std::string& sys_root = "/sys");

// One CPU per queue: the first CPU of the queue's interrupt that is in
// `allowed`, else the allowed CPUs round-robin in queue order.
std::vector<int> place_queues(const std::string& ifname, const std::vector<uint32_t>& queues,
                              const std::vector<int>& allowed,
                              const std::string& proc_root = "/proc",
                              const std::string& sys_root = "/sys");

}  // namespace lrp::runtime
