// The conformance probe against every backend that can serve a program's UDP
// sockets: each run's "R" lines must equal the kernel's, except the known
// differences that sockets/preload/README.md lists with their reasons. A
// backend that serves sockets must actually serve them ("S" lines) and
// carry datagrams itself (its LRP_STATS_DIR counts).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/preload/child_process.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp::test {
namespace {

struct Transcript {
  std::map<std::string, std::string> results;  // R lines
  std::map<std::string, std::string> served;   // S lines
  bool finished = false;
};

Transcript parse(const std::string& out) {
  Transcript t;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line == "conformance done") t.finished = true;
    if (line.size() < 3 || line[1] != ' ' || (line[0] != 'R' && line[0] != 'S')) continue;
    const size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    auto& into = line[0] == 'R' ? t.results : t.served;
    into[line.substr(2, colon - 2)] = line.substr(colon + 2);
  }
  return t;
}

// The keys of the README's "Known differences" table (first column, in backticks).
std::set<std::string> known_differences() {
  std::ifstream in(std::string(LRP_SOURCE_DIR) + "/sockets/preload/README.md");
  std::set<std::string> keys;
  std::string line;
  bool in_section = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line == "## Known differences";
    if (!in_section || line.rfind("| `", 0) != 0) continue;
    const size_t end = line.find('`', 3);
    if (end != std::string::npos) keys.insert(line.substr(3, end - 3));
  }
  return keys;
}

std::map<std::string, long long> stats_of(const std::string& dir) {
  std::map<std::string, long long> total;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path());
    std::string name;
    long long value;
    while (in >> name >> value) total[name] += value;
  }
  return total;
}

// How a backend starts a program. Everything a backend needs is made here;
// an lrpd backend adds its daemon to `start` and its launch to `command`.
struct Backend {
  std::string name;
  std::function<std::vector<std::string>(const VethBench&, const std::string& stats_dir)> command;
  bool serves = true;  // takes sockets over (the kernel backend does not)
};

std::vector<Backend> backends() {
  const std::string bin = bin_dir();
  return {
      {"kernel",
       [bin](const VethBench& b, const std::string&) {
         return std::vector<std::string>{"ip", "netns", "exec", b.server_ns};
       },
       false},
      {"lrp-in-process",
       [bin](const VethBench& b, const std::string& stats) {
         return std::vector<std::string>{"ip",
                                         "netns",
                                         "exec",
                                         b.server_ns,
                                         "env",
                                         "LRP_STATS_DIR=" + stats,
                                         bin + "/lrp-run",
                                         "--iface",
                                         b.server_if,
                                         "--"};
       }},
  };
}

// Scenarios whose socket stays on the kernel by design: bound to another
// interface, unbound by a disconnect, or in a process that made an io_uring.
const std::set<std::string> kStaysOnKernel = {
    "addr.bindtodevice-lo", "addr.bindtodevice-lo-after-bind", "addr.implicit-after",
    "iouring.after", "iouring.later"};

Transcript run_probe(const Backend& backend, const VethBench& bench, const std::string& stats) {
  std::vector<std::string> argv = backend.command(bench, stats);
  for (const std::string& a : {bin_dir() + "/preload-probe", std::string("conformance"),
                               bench.server_ns, bench.client_ns, bench.server_if})
    argv.push_back(a);
  std::string out;
  const int status = run_capture(argv, 240000, &out);
  EXPECT_EQ(status, 0) << backend.name << ":\n" << out;
  Transcript t = parse(out);
  EXPECT_TRUE(t.finished) << backend.name << " did not finish:\n" << out;
  return t;
}

TEST(PreloadConformance, EveryBackendMatchesTheKernelOrAListedDifference) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("conf");
  ASSERT_TRUE(bench.ok);
  const std::set<std::string> known = known_differences();
  ASSERT_FALSE(known.empty()) << "README.md lists no known differences";
  const auto all = backends();
  const std::string base_stats = temp_path("conf-stats");
  const Transcript kernel = run_probe(all.front(), bench, base_stats);
  ASSERT_GT(kernel.results.size(), 100u);
  for (const auto& [key, how] : kernel.served) EXPECT_EQ(how, "kernel") << key;

  for (size_t i = 1; i < all.size(); ++i) {
    const Backend& backend = all[i];
    const std::string stats = base_stats + "-" + backend.name;
    std::filesystem::remove_all(stats);
    std::filesystem::create_directories(stats);
    const Transcript other = run_probe(backend, bench, stats);
    std::string unlisted, stale;
    for (const auto& [key, value] : kernel.results) {
      auto it = other.results.find(key);
      const std::string got = it == other.results.end() ? "(missing)" : it->second;
      if (got == value) {
        if (known.count(key) != 0) stale += "  " + key + "\n";
        continue;
      }
      if (known.count(key) == 0)
        unlisted +=
            "  " + key + "\n    kernel: " + value + "\n    " + backend.name + ": " + got + "\n";
    }
    for (const auto& [key, value] : other.results)
      if (kernel.results.count(key) == 0)
        unlisted += "  " + key + " (only on " + backend.name + ")\n";
    EXPECT_TRUE(unlisted.empty()) << backend.name
                                  << " differs from the kernel where README.md lists no "
                                     "known difference:\n"
                                  << unlisted;
    if (!stale.empty())
      std::printf("%s matches the kernel where README.md lists a difference:\n%s",
                  backend.name.c_str(), stale.c_str());
    if (!backend.serves) continue;
    for (const auto& [key, how] : other.served) {
      const std::string want = kStaysOnKernel.count(key) != 0 ? "kernel" : "served";
      EXPECT_EQ(how, want) << backend.name << ": " << key;
    }
    auto counts = stats_of(stats);
    EXPECT_GT(counts["served"], 50) << backend.name;
    EXPECT_GT(counts["sent.lrp"], 10) << backend.name;
    EXPECT_GT(counts["received.lrp"], 50) << backend.name;
    EXPECT_EQ(counts["kernel.error"], 0) << backend.name;
    std::filesystem::remove_all(stats);
  }
}

}  // namespace
}  // namespace lrp::test
