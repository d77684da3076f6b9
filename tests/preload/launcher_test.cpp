// lrp-run refuses clearly what cannot work: no interface, an interface that
// is not there, a user who is not root, a program that is not there.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "tests/preload/child_process.h"
#include "tests/support/privileges.h"

namespace lrp::test {
namespace {

std::string lrp_run() {
  return bin_dir() + "/lrp-run";
}

TEST(Launcher, RefusesWithoutAnInterface) {
  unsetenv("LRP_IFACE");
  std::string out;
  EXPECT_EQ(run_capture({lrp_run(), "--", "true"}, 10000, &out), 2);
  EXPECT_NE(out.find("no interface given"), std::string::npos) << out;
}

TEST(Launcher, RefusesABadMode) {
  std::string out;
  EXPECT_EQ(run_capture({lrp_run(), "--iface", "lo", "--mode", "fast", "--", "true"}, 10000, &out),
            2);
  EXPECT_NE(out.find("--mode: 'fast' is not one of"), std::string::npos) << out;
}

TEST(Launcher, RefusesAMissingInterface) {
  LRP_REQUIRE_PRIVILEGES();
  std::string out;
  EXPECT_EQ(run_capture({lrp_run(), "--iface", "lrpnosuch0", "--", "true"}, 10000, &out), 1);
  EXPECT_NE(out.find("interface 'lrpnosuch0' does not exist"), std::string::npos) << out;
}

TEST(Launcher, RefusesAMissingProgram) {
  LRP_REQUIRE_PRIVILEGES();
  std::string out;
  EXPECT_EQ(run_capture({lrp_run(), "--iface", "lo", "--", "lrp-no-such-program"}, 10000, &out), 1);
  EXPECT_NE(out.find("program 'lrp-no-such-program' not found"), std::string::npos) << out;
}

TEST(Launcher, RefusesWhenNotRoot) {
  LRP_REQUIRE_PRIVILEGES();
  std::string out;
  // setpriv (util-linux) runs it as nobody.
  EXPECT_EQ(run_capture({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", lrp_run(),
                         "--iface", "lo", "--", "true"},
                        10000, &out),
            1);
  EXPECT_NE(out.find("must run as root"), std::string::npos) << out;
}

TEST(Launcher, RunsTheProgramWithTheLibraryAndSettings) {
  LRP_REQUIRE_PRIVILEGES();
  std::string out;
  EXPECT_EQ(
      run_capture({lrp_run(), "--iface", "lo", "--mode", "poll", "--threading", "dedicated", "--",
                   "sh", "-c", "echo \"$LD_PRELOAD $LRP_IFACE $LRP_MODE $LRP_THREADING\""},
                  10000, &out),
      0);
  EXPECT_NE(out.find("liblrp-preload.so lo poll dedicated"), std::string::npos) << out;
}

// Programs the preload library cannot reach run all the same, and lrp-run
// says that their sockets stay on the kernel.
TEST(Launcher, NamesStaticAndGoProgramsAndRunsThem) {
  LRP_REQUIRE_PRIVILEGES();
  struct Case {
    const char* program;
    const char* said;  // null: nothing to say
  };
  for (const Case& c : {Case{"hello-static", "is statically linked"},
                        Case{"hello-go", "is a Go program (.go.buildinfo section)"},
                        Case{"hello-dynamic", nullptr}}) {
    std::string out;
    EXPECT_EQ(
        run_capture({lrp_run(), "--iface", "lo", "--", bin_dir() + "/" + c.program}, 10000, &out),
        0)
        << out;
    EXPECT_NE(out.find("hello from the program"), std::string::npos) << out;
    if (c.said != nullptr) {
      EXPECT_NE(out.find(c.said), std::string::npos) << out;
      EXPECT_NE(out.find("sockets stay on the kernel"), std::string::npos) << out;
    } else {
      EXPECT_EQ(out.find("lrp-run:"), std::string::npos) << out;
    }
  }
}

}  // namespace
}  // namespace lrp::test
