// A working program never breaks under lrp-run: sockets beyond lrp's limits,
// sockets of a helper the server execs, and sockets of a server without the
// privileges for lrp all bind as the kernel lets them and work, on lrp where
// it can serve them and on the kernel where not, with the reason counted.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/preload/child_process.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp::test {
namespace {

// Sums every process's counts in an LRP_STATS_DIR.
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

std::string line_of(const std::string& out, const std::string& key) {
  const size_t at = out.find(key + ": ");
  if (at == std::string::npos) return "(missing)";
  const size_t start = at + key.size() + 2;
  return out.substr(start, out.find('\n', start) - start);
}

class PreloadFallback : public testing::Test {
 protected:
  void SetUp() override {
    missing_ = missing_privileges();
    if (!missing_.empty()) return;
    bench_ = std::make_unique<VethBench>("fb");
    stats_ = temp_path("fb-stats");
    std::filesystem::remove_all(stats_);
    std::filesystem::create_directories(stats_);
    chmod(stats_.c_str(), 0777);  // a server that drops privileges still writes its counts
  }
  void TearDown() override {
    if (!stats_.empty()) std::filesystem::remove_all(stats_);
  }
  // preload-probe MODE ARGS under lrp-run in the server namespace.
  std::string run_probe(const std::vector<std::string>& mode) {
    std::vector<std::string> argv = {"ip",
                                     "netns",
                                     "exec",
                                     bench_->server_ns,
                                     "env",
                                     "LRP_STATS_DIR=" + stats_,
                                     bin_dir() + "/lrp-run",
                                     "--in-process",
                                     "--iface",
                                     bench_->server_if,
                                     "--",
                                     bin_dir() + "/preload-probe",
                                     mode.front(),
                                     bench_->server_ns,
                                     bench_->client_ns,
                                     bench_->server_if};
    argv.insert(argv.end(), mode.begin() + 1, mode.end());
    std::string out;
    status_ = run_capture(argv, 120000, &out);
    return out;
  }
  std::string missing_;
  std::unique_ptr<VethBench> bench_;
  std::string stats_;
  int status_ = -1;
};

TEST_F(PreloadFallback, AThousandSocketsAllBindAndWork) {
  LRP_REQUIRE_PRIVILEGES();
  ASSERT_TRUE(bench_->ok);
  const std::string out = run_probe({"many", "1000", "20000"});
  EXPECT_EQ(status_, 0) << out;
  EXPECT_EQ(line_of(out, "R many/bound"), "1000 of 1000") << out;
  EXPECT_EQ(line_of(out, "R many/echoed"), "1000") << out;
  EXPECT_EQ(line_of(out, "R many/replies"), "1000") << out;
  EXPECT_EQ(line_of(out, "R many/limit"), "as set") << out;
  auto counts = stats_of(stats_);
  // lrp serves what its limits allow; every other socket is on the kernel,
  // counted, and said once.
  EXPECT_GT(counts["served"], 0);
  EXPECT_EQ(counts["served"] + counts["kernel.limit"] + counts["kernel.fd_budget"], 1000)
      << "served " << counts["served"] << ", limit " << counts["kernel.limit"] << ", fd budget "
      << counts["kernel.fd_budget"];
  EXPECT_EQ(counts["kernel.error"], 0);
  // Each served socket's datagram came and went through lrp.
  EXPECT_EQ(counts["received.lrp"], counts["served"]);
  EXPECT_EQ(counts["sent.lrp"], counts["served"]);
  EXPECT_NE(out.find("[limit; further sockets for this reason are only counted]"),
            std::string::npos)
      << out;
}

TEST_F(PreloadFallback, AServerAndTheHelperItExecsBothWork) {
  LRP_REQUIRE_PRIVILEGES();
  ASSERT_TRUE(bench_->ok);
  const std::string out = run_probe({"exec-server", "21000"});
  EXPECT_EQ(status_, 0) << out;
  EXPECT_EQ(line_of(out, "R exec/server-bind"), "0") << out;
  EXPECT_EQ(line_of(out, "S exec-server"), "served") << out;
  // In-process, the parent's engine holds the interface: the helper's socket
  // binds and works on the kernel.
  EXPECT_EQ(line_of(out, "R exec/helper-bind"), "0 kernel") << out;
  EXPECT_EQ(line_of(out, "R exec/server-echoed"), "yes") << out;
  EXPECT_EQ(line_of(out, "R exec/helper-exit"), "0") << out;
  const std::string replies = line_of(out, "R exec/replies");
  EXPECT_NE(replies.find("to-server"), std::string::npos) << out;
  EXPECT_NE(replies.find("to-helper"), std::string::npos) << out;
  auto counts = stats_of(stats_);
  EXPECT_EQ(counts["served"], 1);
  EXPECT_EQ(counts["kernel.interface_busy"], 1);
}

TEST_F(PreloadFallback, AServerWithoutPrivilegesWorksOnTheKernel) {
  LRP_REQUIRE_PRIVILEGES();
  ASSERT_TRUE(bench_->ok);
  const std::string out = run_probe({"unprivileged", "21100"});
  EXPECT_EQ(status_, 0) << out;
  EXPECT_EQ(line_of(out, "R unprivileged/drop"), "0 0") << out;
  EXPECT_EQ(line_of(out, "R unprivileged/bind"), "0") << out;
  EXPECT_EQ(line_of(out, "S unprivileged"), "kernel") << out;
  EXPECT_EQ(line_of(out, "R unprivileged/echoed"), "yes") << out;
  EXPECT_EQ(line_of(out, "R unprivileged/reply"), "1 x [3:low tos 0 ttl 64]") << out;
  EXPECT_NE(out.find("[no_privileges"), std::string::npos) << out;
  EXPECT_EQ(stats_of(stats_)["kernel.no_privileges"], 1);
}

TEST_F(PreloadFallback, AProgramExecdWithTheServersSocketGetsTheSocket) {
  LRP_REQUIRE_PRIVILEGES();
  ASSERT_TRUE(bench_->ok);
  const std::string out = run_probe({"exec-inherit", "21200"});
  EXPECT_EQ(status_, 0) << out;
  EXPECT_EQ(line_of(out, "S exec-inherit"), "served") << out;
  EXPECT_EQ(line_of(out, "R exec-inherit/program-exit"), "0") << out;
  EXPECT_EQ(line_of(out, "R exec-inherit/reply"), "1 x [9:inherited tos 0 ttl 64]") << out;
}

TEST_F(PreloadFallback, ARingMadeWithoutTheCLibraryKeepsSocketsOnTheKernel) {
  LRP_REQUIRE_PRIVILEGES();
  ASSERT_TRUE(bench_->ok);
  const std::string out = run_probe({"iouring-inline", "21300"});
  EXPECT_EQ(status_, 0) << out;
  EXPECT_EQ(line_of(out, "S iouring-inline/before"), "served") << out;
  EXPECT_EQ(line_of(out, "R iouring-inline/ring"), "mapped") << out;
  EXPECT_EQ(line_of(out, "S iouring-inline/after"), "kernel") << out;
  EXPECT_EQ(line_of(out, "S iouring-inline/before-now"), "kernel") << out;
  EXPECT_EQ(line_of(out, "R iouring-inline/before-works"), "yes") << out;
  EXPECT_EQ(line_of(out, "R iouring-inline/after-works"), "yes") << out;
  EXPECT_EQ(stats_of(stats_)["kernel.io_uring"], 2);
}

}  // namespace
}  // namespace lrp::test
