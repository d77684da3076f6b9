// The preload library takes over only UDP sockets on the lrp interface:
// TCP, Unix and loopback UDP behave exactly as without it, and the sockets
// it serves keep the kernel's semantics for the calls a UDP server makes.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "tests/preload/child_process.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp::test {
namespace {

std::string probe() {
  return bin_dir() + "/preload-probe";
}

TEST(PreloadCalls, OtherSocketsBehaveExactlyAsWithoutIt) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("pas");
  ASSERT_TRUE(bench.ok);
  std::string plain, preloaded;
  ASSERT_EQ(
      run_capture({"ip", "netns", "exec", bench.server_ns, probe(), "passthrough"}, 30000, &plain),
      0)
      << plain;
  ASSERT_EQ(run_capture({"ip", "netns", "exec", bench.server_ns, bin_dir() + "/lrp-run", "--iface",
                         bench.server_if, "--verbose", "--", probe(), "passthrough"},
                        30000, &preloaded),
            0)
      << preloaded;
  EXPECT_GT(plain.size(), 1000u);
  EXPECT_EQ(preloaded, plain);
  // Nothing was taken over: the library never even opened lrp on the interface.
  EXPECT_EQ(preloaded.find("lrp-preload"), std::string::npos);
}

TEST(PreloadCalls, ServedSocketsKeepUdpSemantics) {
  LRP_REQUIRE_PRIVILEGES();
  VethBench bench("sem");
  ASSERT_TRUE(bench.ok);
  constexpr int kEchoPorts = 16;
  std::string ports;
  for (int i = 0; i < kEchoPorts; ++i) ports += (i ? "," : "") + std::to_string(9800 + i);
  ChildProcess echo({"ip", "netns", "exec", bench.client_ns, bin_dir() + "/kernel-echo", "--port",
                     ports, "--quiet"},
                    temp_path("echo"));
  bool listening = false;
  for (int i = 0; i < 100 && !listening; ++i) {
    std::string ss;
    run_capture({"ip", "netns", "exec", bench.client_ns, "ss", "-uln"}, 5000, &ss);
    listening = ss.find(":9815") != std::string::npos;
    if (!listening) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(listening) << echo.output();
  std::string out;
  const int status = run_capture(
      {"ip", "netns", "exec", bench.server_ns, bin_dir() + "/lrp-run", "--iface", bench.server_if,
       "--verbose", "--", probe(), "semantics", "9800", std::to_string(kEchoPorts)},
      60000, &out);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out.find("FAIL"), std::string::npos) << out;
  EXPECT_NE(out.find("failures 0"), std::string::npos) << out;
  // Misuse is said once, clearly, on stderr.
  EXPECT_NE(out.find("a forked child cannot use it"), std::string::npos) << out;
}

}  // namespace
}  // namespace lrp::test
