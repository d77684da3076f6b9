// A plain C daemon (plain-udp-echo, built without lrp in mind) under
// lrp-run on lrpd, in the shapes real hosts run: it binds and forks
// workers, it drops to `nobody` before binding or is started by `nobody`,
// and it is flooded while another process's server on the same interface
// keeps answering.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/preload/child_process.h"
#include "tests/service/lrpd_bench.h"
#include "tests/support/privileges.h"
#include "tests/support/sanitizer.h"

namespace lrp::test {
namespace {

using namespace std::chrono_literals;

std::string plain_echo() {
  return bin_dir() + "/plain-udp-echo";
}

uint32_t nobody_uid() {
  const passwd* pw = getpwnam("nobody");
  return pw != nullptr ? pw->pw_uid : 65534;
}

// What a probe printed after "KEY: ".
std::string line_of(const std::string& out, const std::string& key) {
  const size_t at = out.find(key + ": ");
  if (at == std::string::npos) return "(missing)";
  const size_t start = at + key.size() + 2;
  return out.substr(start, out.find('\n', start) - start);
}

#define REQUIRE_LRPD(b)      \
  LRP_REQUIRE_PRIVILEGES();  \
  ASSERT_TRUE((b).bench.ok); \
  ASSERT_TRUE((b).start_lrpd()) << (b).lrpd->stderr_text()

TEST(LrpRunProcesses, BindThenForkAnswersEverything) {
  LrpdBench b("pfork");
  REQUIRE_LRPD(b);
  ChildProcess server(b.lrp_run({plain_echo(), "7010", "--workers", "2"}), temp_path("fork"));
  ASSERT_TRUE(wait_for_output(server, "ready", 10s)) << server.output();
  UdpPeer peer(b.bench.client_ns, AF_INET);
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(ping_pong(peer, 7010, 10000, 16), 10000u) << server.output();
  // The parent bound the socket; both workers joined its application.
  const auto apps = b.apps();
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].sessions, 3u);
  // lrp carried every request and every answer.
  const auto socket = b.socket_on(7010);
  EXPECT_EQ(socket.delivered, 10000u);
  EXPECT_EQ(socket.sent, 10000u);
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.output();
  std::vector<uint64_t> per_worker;
  EXPECT_EQ(served_by(server.output(), &per_worker), 10000u) << server.output();
  ASSERT_EQ(per_worker.size(), 2u) << server.output();
  EXPECT_GT(per_worker[0], 0u) << server.output();
  EXPECT_GT(per_worker[1], 0u) << server.output();
}

// lrp-run, its preload library and the echo server copied where nobody
// can run them (a checkout may sit in a directory only root may enter),
// in the bin/ and lib/ layout lrp-run looks for its library in.
class StagedForNobody {
 public:
  StagedForNobody() : dir_("/tmp/lrp-nobody-" + std::to_string(getpid())) {
    namespace fs = std::filesystem;
    fs::remove_all(dir_);
    for (const char* sub : {"/bin", "/lib"}) fs::create_directories(dir_ + sub);
    const std::string lib_dir = fs::path(bin_dir()).parent_path().string() + "/lib";
    fs::copy_file(bin_dir() + "/lrp-run", dir_ + "/bin/lrp-run");
    fs::copy_file(plain_echo(), dir_ + "/bin/plain-udp-echo");
    fs::copy_file(lib_dir + "/liblrp-preload.so", dir_ + "/lib/liblrp-preload.so");
    for (const char* sub : {"", "/bin", "/lib"})
      fs::permissions(dir_ + sub, fs::perms::owner_all | fs::perms::group_read |
                                      fs::perms::group_exec | fs::perms::others_read |
                                      fs::perms::others_exec);
  }
  ~StagedForNobody() { std::filesystem::remove_all(dir_); }
  std::string bin(const std::string& name) const { return dir_ + "/bin/" + name; }

 private:
  std::string dir_;
};

// Two servers without privileges: one drops to nobody itself before it
// binds, one is started by nobody (lrp-run too runs as nobody).
TEST(LrpRunProcesses, ServesServersWithoutPrivileges) {
  LrpdBench b("pnobody");
  REQUIRE_LRPD(b);
  ChildProcess dropped(b.lrp_run({plain_echo(), "7020", "--user", "nobody"}), temp_path("dropped"));
  const std::string id = std::to_string(nobody_uid());
  const StagedForNobody staged;
  ChildProcess started({"ip", "netns", "exec", b.bench.server_ns, "setpriv", "--reuid=" + id,
                        "--regid=65534", "--clear-groups", staged.bin("lrp-run"), "--socket",
                        b.socket_path, "--", staged.bin("plain-udp-echo"), "7021"},
                       temp_path("started"));
  ASSERT_TRUE(wait_for_output(dropped, "ready", 10s)) << dropped.output();
  ASSERT_TRUE(wait_for_output(started, "ready", 10s)) << started.output();
  UdpPeer peer(b.bench.client_ns, AF_INET);
  ASSERT_TRUE(peer.ok());
  EXPECT_EQ(ping_pong(peer, 7020, 200, 4), 200u) << dropped.output();
  EXPECT_EQ(ping_pong(peer, 7021, 200, 4), 200u) << started.output();
  const auto apps = b.apps();
  ASSERT_EQ(apps.size(), 2u);
  for (const auto& a : apps) {
    EXPECT_EQ(a.uid, nobody_uid());
    EXPECT_EQ(a.delivered, 200u);
    EXPECT_EQ(a.tx_sent, 200u);
  }
}

// Requests numbered first..first+count-1, one at a time, each waited for up
// to half a second; the round trips of those answered in time, in
// microseconds. *answered gets every request answered, late ones too.
std::vector<double> light_round(UdpPeer& peer, uint16_t port, int first, int count,
                                std::set<int>* answered) {
  std::vector<double> us;
  for (int request = first; request < first + count; ++request) {
    const auto sent = std::chrono::steady_clock::now();
    peer.send_to(VethBench::kServer4, port, "light-" + std::to_string(request));
    std::string reply;
    while (peer.receive(&reply, 500)) {
      int id = -1;
      if (std::sscanf(reply.c_str(), "light-%d", &id) == 1) answered->insert(id);
      if (id != request) continue;
      us.push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - sent)
              .count());
      break;
    }
    std::this_thread::sleep_for(1ms);
  }
  return us;
}

// Answers still on their way after a round.
void collect_late(UdpPeer& peer, std::set<int>* answered) {
  std::string reply;
  while (peer.receive(&reply, 500)) {
    int id = -1;
    if (std::sscanf(reply.c_str(), "light-%d", &id) == 1) answered->insert(id);
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Two processes on lrpd: a slow server flooded with ten times what it can
// answer, and a light one beside it. Whatever reaches the light one through
// lrp is answered, as fast as without the flood; the flood is dropped early
// (at XDP or in the kernel's ring), in the flooded application only.
TEST(LrpRunProcesses, AFloodedProcessDoesNotStallItsNeighbour) {
  LrpdBench b("piso");
  REQUIRE_LRPD(b);
  ChildProcess flooded(b.lrp_run({plain_echo(), "7100", "--pause-us", "200"}),
                       temp_path("flooded"));
  ChildProcess light(b.lrp_run({plain_echo(), "7101"}), temp_path("light"));
  ASSERT_TRUE(wait_for_output(flooded, "ready", 10s)) << flooded.output();
  ASSERT_TRUE(wait_for_output(light, "ready", 10s)) << light.output();
  UdpPeer peer(b.bench.client_ns, AF_INET);
  ASSERT_TRUE(peer.ok());
  constexpr int kUnloaded = 200, kLoaded = 500;
  std::set<int> answered;
  const auto unloaded = light_round(peer, 7101, 0, kUnloaded, &answered);
  EXPECT_EQ(answered.size(), size_t{kUnloaded});

  std::atomic<bool> flooding{true};
  std::atomic<size_t> flood_sent{0};
  // 50,000 a second, ten times what the slow server answers (it pauses
  // 200 us per datagram): its neighbour is overloaded, not the machine. An
  // unpaced flood would measure the veth's one queue ahead of XDP instead,
  // where the light requests wait behind the flood for any receiver.
  std::thread flooder([&] {
    UdpPeer flood(b.bench.client_ns, AF_INET);
    auto next = std::chrono::steady_clock::now();
    const auto end = next + 20s;
    while (flooding && next < end) {
      flood_sent += flood.send_many(VethBench::kServer4, 7100, 100, 18);
      next += 2ms;
      std::this_thread::sleep_until(next);
    }
  });
  std::this_thread::sleep_for(300ms);
  const auto loaded = light_round(peer, 7101, kUnloaded, kLoaded, &answered);
  flooding = false;
  flooder.join();
  collect_late(peer, &answered);
  // Alone again once the slow server has worked off what it had queued:
  // with the round before the flood, its unloaded range.
  for (uint64_t sent = b.socket_on(7100).sent, i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(100ms);
    const uint64_t now = b.socket_on(7100).sent;
    if (now == sent) break;
    sent = now;
  }
  const auto after = light_round(peer, 7101, kUnloaded + kLoaded, kUnloaded, &answered);
  collect_late(peer, &answered);

  const auto apps = b.apps();
  ASSERT_EQ(apps.size(), 2u);
  const uint32_t flooded_id = b.socket_on(7100).app_id;
  const auto& flooded_app = apps[0].app_id == flooded_id ? apps[0] : apps[1];
  const auto& light_app = apps[0].app_id == flooded_id ? apps[1] : apps[0];
  ASSERT_EQ(flooded_app.app_id, flooded_id);
  // Everything of the light one's that reached lrp was answered (the veth
  // may drop before XDP when the flooder overruns it, as a NIC ring would).
  const auto light_socket = b.socket_on(7101);
  EXPECT_EQ(light_socket.delivered, answered.size());
  EXPECT_EQ(light_socket.sent, light_socket.delivered);
  EXPECT_EQ(light_socket.rx_ring_full, 0u);
  for (uint64_t d : light_app.drops) EXPECT_EQ(d, 0u);
  EXPECT_GE(answered.size(), size_t{2 * kUnloaded + kLoaded - 5})
      << "the light server hardly got through at all";
  // The flood overloaded its server and was dropped before protocol work.
  const uint64_t early =
      flooded_app.drops[service::kDropKernelRing] + flooded_app.drops[service::kDropShed];
  EXPECT_GT(flood_sent.load(), 2 * flooded_app.delivered);
  EXPECT_GT(early, 0u);
  EXPECT_EQ(flooded_app.drops[service::kDropRingFull], 0u);
  // Beside the flood its median stays within its unloaded range: at most
  // twice the higher median of its rounds alone. Its p99 is printed, not
  // compared: on this bench one round's p99 alone ranged from 0.4 to 3.5 ms
  // in sixteen runs, so a bound on it would test the machine. Under the
  // sanitizers, which slow threads unevenly, the figures are printed only.
  const double alone_p50 = std::max(percentile(unloaded, 0.5), percentile(after, 0.5));
  const double alone_p99 = std::max(percentile(unloaded, 0.99), percentile(after, 0.99));
  if (!kSanitizedBuild) {
    EXPECT_LE(percentile(loaded, 0.5), 2 * alone_p50);
  }
  std::printf(
      "light round trip, alone p50 %.0f us p99 %.0f us (before %.0f/%.0f, after %.0f/%.0f);"
      " flooded p50 %.0f us p99 %.0f us (%zu flood datagrams sent, %llu delivered to the"
      " flooded server)\n",
      alone_p50, alone_p99, percentile(unloaded, 0.5), percentile(unloaded, 0.99),
      percentile(after, 0.5), percentile(after, 0.99), percentile(loaded, 0.5),
      percentile(loaded, 0.99), flood_sent.load(),
      static_cast<unsigned long long>(flooded_app.delivered));
}

// lrpd killed under a steady request stream: the server under lrp-run
// answers on its kernel socket within a second, without a restart, and
// re-attaches by itself when lrpd is back.
TEST(LrpRunProcesses, SurvivesLrpdAndReattaches) {
  LrpdBench b("prestart");
  REQUIRE_LRPD(b);
  ChildProcess server(b.lrp_run({plain_echo(), "7200"}), temp_path("survivor"));
  ASSERT_TRUE(wait_for_output(server, "ready", 10s)) << server.output();
  UdpPeer peer(b.bench.client_ns, AF_INET);
  ASSERT_TRUE(peer.ok());
  ASSERT_EQ(ping_pong(peer, 7200, 50, 4), 50u);
  TimedRequests load(b.bench, 7200, 20000);
  std::this_thread::sleep_for(300ms);
  const auto killed = std::chrono::steady_clock::now();
  b.lrpd->signal(SIGKILL);
  ASSERT_TRUE(b.lrpd->wait_exit(5s).has_value());
  std::this_thread::sleep_for(1500ms);
  const auto first_after = load.first_answer_after(killed);
  ASSERT_TRUE(first_after.has_value()) << "no answer after lrpd died: " << server.output();
  EXPECT_LT(*first_after, 1s);
  ASSERT_TRUE(b.start_lrpd()) << b.lrpd->stderr_text();
  // Back on lrp: lrpd's socket for the port delivers the stream again.
  EXPECT_TRUE(eventually([&] { return b.socket_on(7200).delivered > 10; }, 5s))
      << "the server did not re-attach: " << server.output();
  load.stop();
  EXPECT_EQ(ping_pong(peer, 7200, 50, 4), 50u);
}

// A server on the engine's own core, one request at a time: each answer
// rings lrpd's doorbell, and the engine hears each ring once. (A ring left
// readable woke the engine again and again until the server, preempted by
// it, ran again: about a hundred empty passes per request, and answers late
// by a scheduler tick.)
TEST(LrpRunProcesses, TheEngineHearsEachAnswerOnce) {
  LrpdBench b("pring");
  REQUIRE_LRPD(b);
  ChildProcess server(b.lrp_run({"taskset", "-c", "1", plain_echo(), "7400"}), temp_path("ring"));
  ASSERT_TRUE(wait_for_output(server, "ready", 10s)) << server.output();
  UdpPeer peer(b.bench.client_ns, AF_INET);
  ASSERT_TRUE(peer.ok());
  const auto passes = [&] {
    uint64_t n = 0;
    for (const auto& e : b.engines()) n += e.passes;
    return n;
  };
  ASSERT_EQ(ping_pong(peer, 7400, 100, 1), 100u) << server.output();
  const uint64_t before = passes();
  constexpr size_t kRequests = 3000;
  ASSERT_EQ(ping_pong(peer, 7400, kRequests, 1), kRequests) << server.output();
  const uint64_t per_request = (passes() - before) / kRequests;
  EXPECT_LE(per_request, 12u) << "engine passes per request";
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.output();
}

// A server and lrpd's engine on a core that a busy process also wants: the
// scheduler preempts each of them between any two instructions, so every
// order of "take the flag, ring the doorbell, sleep" between the server and
// the engine happens. No answer may wait for a timeout: a lost doorbell
// shows as a round trip of 100 ms (the engine's longest sleep); the kernel
// scheduler's own delays, with other tests running beside this one, stay
// well below that.
TEST(LrpRunProcesses, NoAnswerWaitsForATimeoutBesideABusyProcess) {
  LrpdBench b("pbusy");
  REQUIRE_LRPD(b);
  ChildProcess server(b.lrp_run({"taskset", "-c", "1", plain_echo(), "7410"}), temp_path("busy"));
  ASSERT_TRUE(wait_for_output(server, "ready", 10s)) << server.output();
  // The busy loop ends by itself after 60 s; nice and taskset exec it, so
  // the child is the loop itself and the kill below ends it.
  ChildProcess busy({"nice", "-n", "19", "taskset", "-c", "1", "sh", "-c",
                     "end=$((SECONDS + 60)); while [ $SECONDS -lt $end ]; do :; done"},
                    temp_path("busy-loop"));
  UdpPeer peer(b.bench.client_ns, AF_INET);
  ASSERT_TRUE(peer.ok());
  ASSERT_EQ(ping_pong(peer, 7410, 50, 1), 50u) << server.output();
  constexpr int kRequests = 2000;
  int answered = 0, slow = 0;
  auto slowest = std::chrono::steady_clock::duration::zero();
  for (int i = 0; i < kRequests; ++i) {
    const std::string id = "busy-" + std::to_string(i);
    const auto sent = std::chrono::steady_clock::now();
    peer.send_to(VethBench::kServer4, 7410, id);
    std::string reply;
    while (peer.receive(&reply, 500) && reply != id) {
    }
    if (reply != id) continue;
    ++answered;
    const auto took = std::chrono::steady_clock::now() - sent;
    slowest = std::max(slowest, took);
    if (took > 90ms) ++slow;
  }
  busy.stop(SIGKILL);
  EXPECT_EQ(answered, kRequests);
  EXPECT_EQ(slow, 0) << "round trips over 90 ms; the slowest took "
                     << std::chrono::duration<double, std::milli>(slowest).count() << " ms";
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.output();
}

// exec: a program started by a served program (fork, then exec with the
// socket still open) attaches to lrpd like any client, and the parent's
// socket stays served.
TEST(LrpRunProcesses, AServerAndTheProgramItExecsAreBothServed) {
  LrpdBench b("pexec");
  REQUIRE_LRPD(b);
  std::string out;
  const int status =
      run_capture(b.lrp_run({bin_dir() + "/preload-probe", "exec-server", b.bench.server_ns,
                             b.bench.client_ns, b.bench.server_if, "7300"}),
                  60000, &out);
  ASSERT_EQ(status, 0) << out;
  const auto said = [&](const std::string& key) { return line_of(out, key); };
  EXPECT_EQ(said("S exec-server"), "served") << out;
  EXPECT_EQ(said("R exec/helper-bind"), "0 served") << out;
  EXPECT_EQ(said("R exec/server-echoed"), "yes") << out;
  EXPECT_EQ(said("R exec/helper-exit"), "0") << out;
  const std::string replies = said("R exec/replies");
  EXPECT_NE(replies.find("to-server"), std::string::npos) << out;
  EXPECT_NE(replies.find("to-helper"), std::string::npos) << out;
}

// Many sockets in one program: each socket is an application of its own on
// lrpd, with the client's fds for it (the region, its doorbell and wait fds,
// the duplicate of the kernel socket). Those never take the program's fd
// numbers or its RLIMIT_NOFILE; sockets beyond lrp's budget stay on the
// kernel and still work.
TEST(LrpRunProcesses, AThousandSocketsAllBindAndAnswer) {
  LrpdBench b("pmany");
  REQUIRE_LRPD(b);
  std::string out;
  const int status = run_capture(b.lrp_run({bin_dir() + "/preload-probe", "many", b.bench.server_ns,
                                            b.bench.client_ns, b.bench.server_if, "1000", "20000"}),
                                 120000, &out);
  ASSERT_EQ(status, 0) << out;
  const auto said = [&](const std::string& key) { return line_of(out, key); };
  EXPECT_EQ(said("R many/bound"), "1000 of 1000") << out;
  EXPECT_EQ(said("R many/echoed"), "1000") << out;
  EXPECT_EQ(said("R many/replies"), "1000") << out;
  EXPECT_EQ(said("R many/limit"), "as set") << out;
  // lrpd serves as many as it allows one process; the rest are on the
  // kernel with the reason said once.
  int served = -1, on_kernel = -1;
  const size_t at = out.find("# served ");
  ASSERT_NE(at, std::string::npos) << out;
  ASSERT_EQ(std::sscanf(out.c_str() + at, "# served %d, on the kernel %d", &served, &on_kernel), 2);
  EXPECT_GT(served, 0) << out;
  EXPECT_EQ(served + on_kernel, 1000) << out;
  EXPECT_NE(out.find("[limit; further sockets for this reason are only counted]"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace lrp::test
