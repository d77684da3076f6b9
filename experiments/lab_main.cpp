// lrp-lab EXPERIMENT [--out DIR] [--quick] [--metrics HOST:PORT]
// Entry point of the experiments: replaces itself with the harness
// (lab/lrp_lab.py) run by the system Python, which has matplotlib, so that
// signals (Ctrl-C, SIGTERM) reach the harness directly and it can clean up.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const char* python = "/usr/bin/python3";
  const std::string script = std::string(LRP_LAB_DIR) + "/lrp_lab.py";
  std::vector<std::string> args = {python, script, "--bin", LRP_BIN_DIR};
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  execv(python, raw.data());
  std::fprintf(stderr, "lrp-lab: cannot run %s %s: %s (install python3 and python3-matplotlib)\n",
               python, script.c_str(), std::strerror(errno));
  return 127;
}
