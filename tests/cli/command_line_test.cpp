// The parser every program uses: what it accepts, what it refuses and with
// which message, and the usage it prints.
#include "cli/command_line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lrp::cli {
namespace {

struct Args {
  std::vector<std::string> words;
  std::vector<const char*> argv() const {
    std::vector<const char*> v = {"prog"};
    for (const auto& w : words) v.push_back(w.c_str());
    return v;
  }
};

struct Settings {
  std::string dst, mode = "adaptive";
  int port = 0;
  double rate = 0;
  bool quiet = false;
  std::string name;
  std::vector<std::string> command;
};

CommandLine line(Settings* s, bool with_command = false) {
  CommandLine cl("prog", "Does things.");
  cl.option("--dst", "ADDR", "where to", text(&s->dst)).required();
  cl.option("--port", "P", "port", integer(&s->port, 1, 65535));
  cl.option("--rate", "PPS", "rate", real(&s->rate, 0, 1e6));
  cl.option("--mode", "MODE", "mode", one_of(&s->mode, {"adaptive", "poll"}));
  cl.flag("--quiet", "say less", &s->quiet);
  cl.positional("NAME", "a name", text(&s->name));
  if (with_command) cl.command("CMD ARGS...", "what to run", &s->command);
  return cl;
}

Result<CommandLine::Outcome> parse(const CommandLine& cl, std::vector<std::string> words) {
  Args a{std::move(words)};
  auto argv = a.argv();
  return cl.parse(static_cast<int>(argv.size()), argv.data());
}

std::string error_of(const CommandLine& cl, std::vector<std::string> words) {
  auto r = parse(cl, std::move(words));
  return r ? std::string("(accepted)") : r.error().message();
}

TEST(CommandLine, StoresValuesGivenEitherWay) {
  Settings s;
  const CommandLine cl = line(&s);
  auto r = parse(cl, {"--dst", "198.18.0.1", "--port=9000", "--rate", "2.5", "--quiet", "x"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value(), CommandLine::Outcome::Run);
  EXPECT_EQ(s.dst, "198.18.0.1");
  EXPECT_EQ(s.port, 9000);
  EXPECT_EQ(s.rate, 2.5);
  EXPECT_TRUE(s.quiet);
  EXPECT_EQ(s.name, "x");
  EXPECT_EQ(s.mode, "adaptive");
}

TEST(CommandLine, HelpIsAnOutcomeNotAnError) {
  Settings s;
  const CommandLine cl = line(&s);
  for (const char* h : {"--help", "-h"}) {
    auto r = parse(cl, {h});
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r.value(), CommandLine::Outcome::Help);
  }
}

TEST(CommandLine, RefusesWithTheOptionAndTheReason) {
  Settings s;
  const CommandLine cl = line(&s);
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--bogus"}), "unknown option '--bogus'");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "-x"}), "unknown option '-x'");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--bogus=1"}), "unknown option '--bogus'");
  EXPECT_EQ(error_of(cl, {"--dst"}), "--dst needs a value (--dst ADDR)");
  EXPECT_EQ(error_of(cl, {}), "--dst ADDR is required");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--port", "x"}), "--port: 'x' is not a whole number");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--port", "12a"}), "--port: '12a' is not a whole number");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--port", " 12"}), "--port: ' 12' is not a whole number");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--port", "0"}), "--port: '0' is out of range (1..65535)");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--port", "99999999999999999999"}),
            "--port: '99999999999999999999' is out of range (1..65535)");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--rate", "fast"}), "--rate: 'fast' is not a number");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--rate", "nan"}), "--rate: 'nan' is not a number");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--rate", "-1"}),
            "--rate: '-1' is out of range (0..1e+06)");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--mode", "fast"}),
            "--mode: 'fast' is not one of adaptive, poll");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "--quiet=yes"}), "--quiet takes no value");
  EXPECT_EQ(error_of(cl, {"--dst", "a", "n1", "n2"}), "unexpected argument 'n2'");
}

TEST(CommandLine, TakesTheCommandAfterTheOptions) {
  Settings s;
  const CommandLine cl = line(&s, /*with_command=*/true);
  auto r = parse(cl, {"--dst", "a", "name", "--", "sockperf", "server", "--help", "-p", "1"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r.value(), CommandLine::Outcome::Run);
  EXPECT_EQ(s.command, (std::vector<std::string>{"sockperf", "server", "--help", "-p", "1"}));

  Settings t;
  const CommandLine cl2 = line(&t, /*with_command=*/true);
  // Without "--": from the first word that is not an option or a positional.
  r = parse(cl2, {"--dst", "a", "name", "iperf3", "-s", "--port", "5"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(t.command, (std::vector<std::string>{"iperf3", "-s", "--port", "5"}));
  EXPECT_EQ(t.port, 0);
}

TEST(CommandLine, UsageListsEveryOption) {
  Settings s;
  const CommandLine cl = line(&s, /*with_command=*/true);
  EXPECT_EQ(cl.synopsis(),
            "usage: prog [NAME] --dst ADDR [--port P] [--rate PPS] [--mode MODE] [--quiet] "
            "[-- CMD ARGS...]\n");
  const std::string help = cl.help();
  EXPECT_EQ(help.rfind(cl.synopsis() + "\nDoes things.\n", 0), 0u) << help;
  for (const char* o : {"--dst ADDR", "--port P", "--rate PPS", "--mode MODE", "--quiet",
                        "-h, --help", "NAME", "CMD ARGS..."})
    EXPECT_NE(help.find(std::string("  ") + o), std::string::npos) << o << "\n" << help;
}

TEST(CommandLine, LongSynopsisWraps) {
  std::string v;
  CommandLine cl("prog", "");
  for (int i = 0; i < 12; ++i) cl.option("--option-" + std::to_string(i), "VALUE", "", text(&v));
  const std::string synopsis = cl.synopsis();
  size_t start = 0;
  int lines = 0;
  while (start < synopsis.size()) {
    const size_t end = synopsis.find('\n', start);
    EXPECT_LE(end - start, 100u) << synopsis;
    if (lines > 0) {
      // Continuation lines start under the first option.
      EXPECT_EQ(synopsis.substr(start, 13), std::string(12, ' ') + "[") << synopsis;
    }
    start = end + 1;
    ++lines;
  }
  EXPECT_GT(lines, 1) << synopsis;
}

}  // namespace
}  // namespace lrp::cli
