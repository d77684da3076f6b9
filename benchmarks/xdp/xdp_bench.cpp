// What the XDP program costs per frame, by where the frame stops: the
// kernel's own timing (BPF_PROG_TEST_RUN's `duration`) of each case, and the
// differences between cases that price one check each. Rounds interleave the
// cases so that a change of load moves all of them alike, and each
// difference is taken within one round before the median over rounds.
#include <linux/bpf.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "benchmarks/xdp/frame_cases.h"
#include "benchmarks/xdp/program_under_test.h"
#include "tests/bpf/xdp_names.h"

namespace lrp::bench {
namespace {

struct Options {
  uint32_t repeat = 1000000;
  uint32_t rounds = 11;
};

int usage(const char* argv0, int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: %s [--repeat N] [--rounds N]\n"
               "  Times the XDP program per frame with BPF_PROG_TEST_RUN (needs root).\n"
               "  --repeat N  runs per BPF_PROG_TEST_RUN call (default 1000000)\n"
               "  --rounds N  calls per case, interleaved over cases (default 11)\n",
               argv0);
  return status;
}

bool parse_count(const char* text, uint32_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v == 0 || v > INT_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

template <class T>
T median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "xdp-bench: %s\n", message.c_str());
  return 1;
}

// Empty when this process may make a network namespace; asked in a child
// so that this one stays where it is.
std::string missing_privileges() {
  if (geteuid() != 0)
    return "needs root: it makes a network namespace, loads BPF programs and runs them with "
           "BPF_PROG_TEST_RUN";
  const pid_t pid = fork();
  if (pid == 0) _exit(unshare(CLONE_NEWNET) == 0 ? 0 : 1);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "cannot make a network namespace (unshare(CLONE_NEWNET) failed): needs CAP_SYS_ADMIN";
  return {};
}

bool run_case(ProgramUnderTest& p, const FrameCase& c, uint32_t repeat, Timing* t,
              std::string* error) {
  if (!p.serve_vlan(c.served_vlan, error)) return false;
  return p.run(c.floor ? p.floor_fd() : p.lrp_fd(), c.frame, repeat, t, error);
}

// Each case must end where it claims, or its figure prices something else.
bool check_case(ProgramUnderTest& p, const FrameCase& c, std::string* error) {
  uint64_t before = 0, after = 0;
  Timing t;
  if (!p.global_counter(c.stops_at, &before, error) || !run_case(p, c, 1, &t, error) ||
      !p.global_counter(c.stops_at, &after, error))
    return false;
  const uint64_t want = c.floor ? 0 : 1;
  if (t.verdict != c.verdict || after - before != want) {
    *error = c.name + ": got " + test::verdict_name(t.verdict) + " and " +
             test::global_counter_name(c.stops_at) + " +" + std::to_string(after - before) +
             ", want " + test::verdict_name(c.verdict) + " and +" + std::to_string(want);
    return false;
  }
  return true;
}

void print_results(const std::vector<FrameCase>& cases,
                   const std::vector<std::vector<Timing>>& timings) {
  std::printf("%-22s %-16s %-12s %9s %5s %5s %9s\n", "case", "stops at", "verdict", "kernel_ns",
              "min", "max", "cpu_ns");
  for (size_t i = 0; i < cases.size(); ++i) {
    std::vector<uint32_t> k;
    std::vector<double> cpu;
    for (const Timing& t : timings[i]) {
      k.push_back(t.kernel_ns);
      cpu.push_back(t.cpu_ns);
    }
    const char* stop = cases[i].floor ? "-" : test::global_counter_name(cases[i].stops_at);
    std::printf("%-22s %-16s %-12s %9u %5u %5u %9.1f\n", cases[i].name.c_str(), stop,
                test::verdict_name(cases[i].verdict), median(k),
                *std::min_element(k.begin(), k.end()), *std::max_element(k.begin(), k.end()),
                median(cpu));
  }
  std::printf("\n");
  for (const FrameCase& c : cases)
    std::printf("  %-22s %s\n", c.name.c_str(), c.description.c_str());
}

// kernel and cpu: the median over rounds of the in-round difference.
// kernel_min: the difference of the two cases' fastest rounds, which is
// what is left when other work on the core only ever adds time.
void print_steps(const std::vector<FrameCase>& cases,
                 const std::vector<std::vector<Timing>>& timings) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < cases.size(); ++i) index[cases[i].name] = i;
  std::printf("\nper check (to - from), ns per frame\n");
  std::printf("%-60s %7s %10s %7s\n", "check", "kernel", "kernel_min", "cpu");
  for (const Step& s : steps()) {
    const auto& from = timings[index.at(s.from)];
    const auto& to = timings[index.at(s.to)];
    std::vector<double> dk, dc;
    uint32_t min_from = UINT32_MAX, min_to = UINT32_MAX;
    for (size_t r = 0; r < from.size(); ++r) {
      dk.push_back(static_cast<double>(to[r].kernel_ns) - from[r].kernel_ns);
      dc.push_back(to[r].cpu_ns - from[r].cpu_ns);
      min_from = std::min(min_from, from[r].kernel_ns);
      min_to = std::min(min_to, to[r].kernel_ns);
    }
    std::printf("%-60s %7.1f %10.1f %7.1f\n", s.what.c_str(), median(dk),
                static_cast<double>(min_to) - min_from, median(dc));
    std::printf("    %s -> %s\n", s.from.c_str(), s.to.c_str());
  }
}

int bench(const Options& o) {
  std::string error = missing_privileges();
  if (!error.empty()) return fail(error);
  auto program = ProgramUnderTest::open(&error);
  if (!program) return fail(error);
  const std::vector<FrameCase> cases = frame_cases();
  for (const FrameCase& c : cases)
    if (!check_case(*program, c, &error)) return fail("case check failed: " + error);

  std::vector<std::vector<Timing>> timings(cases.size());
  Timing t;
  for (const FrameCase& c : cases)  // warm-up: caches, branch predictors, map pages
    if (!run_case(*program, c, o.repeat, &t, &error)) return fail(c.name + ": " + error);
  for (uint32_t r = 0; r < o.rounds; ++r) {
    for (size_t i = 0; i < cases.size(); ++i) {
      if (!run_case(*program, cases[i], o.repeat, &t, &error))
        return fail(cases[i].name + ": " + error);
      timings[i].push_back(t);
    }
  }
  std::printf(
      "xdp-bench: %u runs per call, %u rounds; kernel_ns: BPF_PROG_TEST_RUN duration "
      "(median, min, max); cpu_ns: thread CPU time per run (median)\n\n",
      o.repeat, o.rounds);
  print_results(cases, timings);
  print_steps(cases, timings);
  return 0;
}

}  // namespace
}  // namespace lrp::bench

int main(int argc, char** argv) {
  lrp::bench::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") return lrp::bench::usage(argv[0], 0);
    uint32_t* target = a == "--repeat" ? &o.repeat : a == "--rounds" ? &o.rounds : nullptr;
    if (target == nullptr || i + 1 >= argc || !lrp::bench::parse_count(argv[++i], target))
      return lrp::bench::usage(argv[0], 2);
  }
  return lrp::bench::bench(o);
}
