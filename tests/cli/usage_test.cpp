// Every program answers -h/--help with its usage on stdout and exit 0, and a
// bad command line with the reason and the usage on stderr and exit 2,
// without starting anything.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Outcome {
  int status = -1;  // exit status, or -1 when killed
  std::string out, err;
};

// Runs bin/PROGRAM ARGS with stdin closed, collecting its output; killed
// after 10 s (a program that starts serving instead of answering).
Outcome run(const std::string& program, const std::vector<std::string>& args) {
  Outcome r;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return r;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  const std::string path = std::string(LRP_BIN_DIR) + "/" + program;
  std::vector<char*> argv = {const_cast<char*>(path.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  if (spawned != 0) {
    close(out[0]);
    close(err[0]);
    r.err = "cannot run " + path;
    return r;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  while (open_fds > 0 && std::chrono::steady_clock::now() < deadline) {
    if (poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return r;
    }
    usleep(10'000);
  }
  if (WIFEXITED(status)) r.status = WEXITSTATUS(status);
  return r;
}

std::vector<std::string> programs() {
  std::vector<std::string> names;
  std::stringstream in(LRP_PROGRAMS);
  std::string name;
  while (std::getline(in, name, ',')) names.push_back(name);
  return names;
}

class Usage : public testing::TestWithParam<std::string> {};

TEST_P(Usage, HelpPrintsTheUsageAndExitsZero) {
  for (const char* help : {"--help", "-h"}) {
    const Outcome r = run(GetParam(), {help});
    EXPECT_EQ(r.status, 0) << help << "\n" << r.out << r.err;
    EXPECT_EQ(r.out.rfind("usage: " + GetParam() + " ", 0), 0u) << help << ": " << r.out;
    EXPECT_NE(r.out.find("--help"), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "") << help;
  }
}

TEST_P(Usage, HelpWinsOverMissingArguments) {
  // Required options are missing and a later option is bad: --help comes first.
  const Outcome r = run(GetParam(), {"--help", "--no-such-option"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("usage: " + GetParam() + " ", 0), 0u) << r.out;
}

TEST_P(Usage, ABadOptionPrintsTheReasonAndTheUsageAndExitsTwo) {
  const Outcome r = run(GetParam(), {"--no-such-option"});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(GetParam() + ": unknown option '--no-such-option'"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("usage: " + GetParam() + " "), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

// The first option in the help that takes a value: "  --port P   ..." (a
// flag's name is followed by the column of spaces before its description).
std::string first_option_with_value(const std::string& help) {
  std::istringstream lines(help.substr(help.find("\noptions:\n") + 1));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("  --", 0) != 0) continue;
    const size_t space = line.find(' ', 2);
    if (space != std::string::npos && space + 1 < line.size() && line[space + 1] != ' ')
      return line.substr(2, space - 2);
  }
  return {};
}

TEST_P(Usage, AMissingValueIsABadCommandLine) {
  const Outcome help = run(GetParam(), {"--help"});
  const std::string option = first_option_with_value(help.out);
  ASSERT_FALSE(option.empty()) << "no option with a value in:\n" << help.out;
  const Outcome r = run(GetParam(), {option});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(option + " needs a value"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Programs, Usage, testing::ValuesIn(programs()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name;
                           for (char c : info.param) name += std::isalnum(c) ? c : '_';
                           return name;
                         });

}  // namespace
