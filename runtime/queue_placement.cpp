#include "runtime/queue_placement.h"

#include <dirent.h>
#include <sched.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace lrp::runtime {

Result<std::vector<int>> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  std::stringstream in(text);
  std::string part;
  const auto bad = [&](const std::string& why) {
    return make_error(EINVAL, "CPU list '" + text + "': " + why);
  };
  while (std::getline(in, part, ',')) {
    if (part.empty()) return bad("empty entry");
    const size_t dash = part.find('-');
    int first = 0;
    int last = 0;
    try {
      size_t used = 0;
      first = std::stoi(part.substr(0, dash), &used);
      if (used != (dash == std::string::npos ? part.size() : dash)) return bad("'" + part + "'");
      last = first;
      if (dash != std::string::npos) {
        const std::string tail = part.substr(dash + 1);
        last = std::stoi(tail, &used);
        if (used != tail.size()) return bad("'" + part + "'");
      }
    } catch (const std::exception&) {
      return bad("'" + part + "' is not a CPU number or range");
    }
    if (first < 0 || last < first || last >= CPU_SETSIZE) return bad("'" + part + "'");
    for (int c = first; c <= last; ++c)
      if (std::find(cpus.begin(), cpus.end(), c) == cpus.end()) cpus.push_back(c);
  }
  if (cpus.empty()) return bad("no CPU");
  return cpus;
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

namespace {

// The device's MSI interrupt numbers (empty for virtual devices).
std::vector<int> device_irqs(const std::string& ifname, const std::string& sys_root) {
  std::vector<int> irqs;
  const std::string dir = sys_root + "/class/net/" + ifname + "/device/msi_irqs";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return irqs;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    const long n = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0') irqs.push_back(static_cast<int>(n));
  }
  closedir(d);
  std::sort(irqs.begin(), irqs.end());
  return irqs;
}

// The queue number at the end of an interrupt's name ("eth0-TxRx-3",
// "virtio0-input.3", "mlx5_comp3"), or -1; transmit-only ones do not count.
int queue_of_irq_name(const std::string& name) {
  if (name.find("tx-") != std::string::npos || name.find("output") != std::string::npos ||
      name.find("-tx") != std::string::npos)
    return -1;
  size_t end = name.size();
  size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(name[begin - 1]))) --begin;
  if (begin == end) return -1;
  return std::stoi(name.substr(begin));
}

}  // namespace

std::vector<int> queue_irq_cpus(const std::string& ifname, uint32_t queue,
                                const std::string& proc_root, const std::string& sys_root) {
  const std::vector<int> irqs = device_irqs(ifname, sys_root);
  if (irqs.empty()) return {};
  std::ifstream interrupts(proc_root + "/interrupts");
  std::string line;
  while (std::getline(interrupts, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    int irq = -1;
    try {
      irq = std::stoi(line.substr(0, colon));
    } catch (const std::exception&) {
      continue;
    }
    if (!std::binary_search(irqs.begin(), irqs.end(), irq)) continue;
    std::stringstream fields(line.substr(colon + 1));
    std::string name, field;
    while (fields >> field) name = field;  // the action name is the last field
    if (queue_of_irq_name(name) != static_cast<int>(queue)) continue;
    std::ifstream affinity(proc_root + "/irq/" + std::to_string(irq) + "/smp_affinity_list");
    std::string list;
    if (!std::getline(affinity, list)) return {};
    auto cpus = parse_cpu_list(list);
    return cpus ? cpus.value() : std::vector<int>{};
  }
  return {};
}

std::vector<int> place_queues(const std::string& ifname, const std::vector<uint32_t>& queues,
                              const std::vector<int>& allowed, const std::string& proc_root,
                              const std::string& sys_root) {
  std::vector<int> out;
  size_t next = 0;
  for (uint32_t q : queues) {
    int cpu = -1;
    for (int c : queue_irq_cpus(ifname, q, proc_root, sys_root))
      if (std::find(allowed.begin(), allowed.end(), c) != allowed.end()) {
        cpu = c;
        break;
      }
    if (cpu < 0 && !allowed.empty()) cpu = allowed[next++ % allowed.size()];
    out.push_back(cpu);
  }
  return out;
}

}  // namespace lrp::runtime
