// lrp-lab EXPERIMENT [--out DIR] [--quick] [--only CONFIG,...] [--metrics HOST:PORT]
// Entry point of the experiments: checks the command line, then replaces
// itself with the harness (lab/lrp_lab.py) run by the system Python, which
// has matplotlib, so that signals (Ctrl-C, SIGTERM) reach the harness
// directly and it can clean up.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/command_line.h"

int main(int argc, char** argv) {
  std::string experiment, out, metrics, only;
  bool quick = false;
  // The names of lab/lrp_lab.py's EXPERIMENTS.
  lrp::cli::CommandLine cl(
      "lrp-lab",
      "Runs one experiment on a veth pair between two namespaces it creates (load generator\n"
      "on CPU 0, server on CPU 1), removes everything afterwards, writes results.csv, a PNG\n"
      "plot and summary.md into DIR and prints the summary table. Needs root.");
  cl.positional("EXPERIMENT", "livelock, crosstalk, isolation, forwarding or rtc-vs-dedicated",
                lrp::cli::one_of(&experiment, {"livelock", "crosstalk", "isolation", "forwarding",
                                               "rtc-vs-dedicated"}))
      .required();
  cl.option("--out", "DIR", "results directory (default: BUILD/lab-results/EXPERIMENT)",
            lrp::cli::text(&out));
  cl.flag("--quick", "the short version (CI): every configuration, fewer steps", &quick);
  cl.option("--only", "CONFIG[,CONFIG...]",
            "only these server configurations (e.g. lrp-eager,kernel; default: all)",
            lrp::cli::text(&only));
  cl.option("--metrics", "HOST:PORT", "serve lrp's metrics there while it runs",
            lrp::cli::text(&metrics));
  if (auto exit = cl.parse_or_exit(argc, argv)) return *exit;

  const char* python = "/usr/bin/python3";
  const std::string script = std::string(LRP_LAB_DIR) + "/lrp_lab.py";
  std::vector<std::string> args = {python, script, "--bin", LRP_BIN_DIR, experiment};
  if (!out.empty()) args.insert(args.end(), {"--out", out});
  if (quick) args.emplace_back("--quick");
  if (!only.empty()) args.insert(args.end(), {"--only", only});
  if (!metrics.empty()) args.insert(args.end(), {"--metrics", metrics});
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  execv(python, raw.data());
  std::fprintf(stderr, "lrp-lab: cannot run %s %s: %s (install python3 and python3-matplotlib)\n",
               python, script.c_str(), std::strerror(errno));
  return 127;
}
