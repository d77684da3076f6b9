// Attaching the XDP program: at MTU 9000 on veth it attaches natively (it is
// multi-buffer aware), a receive side that cannot take such frames is
// refused with a sentence, and every failure the kernel reports (MTU, no
// native XDP, another owner's program, missing capabilities) becomes a
// message that names what was tried and what to do.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "lrp/netdev.h"
#include "lrp/xdp_attach_error.h"
#include "lrp/xdp_program.h"
#include "tests/bpf/private_netns.h"
#include "tests/bpf/skeleton.h"
#include "tests/support/netns.h"
#include "tests/support/privileges.h"

namespace lrp {
namespace {

using test::NetnsGuard;
using test::VethBench;
using test::VethOptions;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

#define EXPECT_SAYS(error, part) \
  EXPECT_TRUE(has((error).message(), part)) << "no '" << (part) << "' in: " << (error).message()

AttachAttempt veth_native(uint32_t mtu, bool multi_buffer = true) {
  return AttachAttempt{.ifname = "ls1",
                       .mode = XdpMode::Native,
                       .driver = "veth",
                       .mtu = mtu,
                       .multi_buffer = multi_buffer};
}

// ---- the sentences ----

TEST(bpf_attach_messages, MtuNamesTheMtuTheLimitAndTheRemedy) {
  const Error e = xdp_attach_error(ERANGE, veth_native(9000, false));
  EXPECT_EQ(e.code, ERANGE);
  EXPECT_SAYS(e, "attach the lrp XDP program on ls1 in native mode");
  EXPECT_SAYS(e, "MTU 9000");
  EXPECT_SAYS(e, std::to_string(veth_xdp_mtu_limit()) + " bytes");
  EXPECT_SAYS(e, "ip link set dev ls1 mtu " + std::to_string(veth_xdp_mtu_limit()));
  EXPECT_SAYS(e, "peer");
  EXPECT_SAYS(e, "--generic");

  AttachAttempt nic = veth_native(9000, false);
  nic.driver = "virtio_net";
  const Error n = xdp_attach_error(ERANGE, nic);
  EXPECT_SAYS(n, "virtio_net");
  EXPECT_SAYS(n, "MTU 9000");
  EXPECT_SAYS(n, "ip link set dev ls1 mtu");
}

TEST(bpf_attach_messages, FrameSizeRefusalNamesMtuLimitAndRemedy) {
  const Error e = xdp_frame_size_error("ls1", 9000, 2048 - 256);
  EXPECT_EQ(e.code, EMSGSIZE);
  EXPECT_SAYS(e, "MTU is 9000");
  EXPECT_SAYS(e, "9018 bytes");
  EXPECT_SAYS(e, "1792 bytes");
  EXPECT_SAYS(e, "ip link set dev ls1 mtu 1774");
  EXPECT_SAYS(e, "multi-buffer");
  EXPECT_EQ(mtu_fitting(1792), 1774u);
}

TEST(bpf_attach_messages, EveryKnownFailureSaysWhatToDo) {
  AttachAttempt a = veth_native(1500);
  const Error busy = xdp_attach_error(EBUSY, [&] {
    AttachAttempt b = a;
    b.other_program = "'xdp_firewall', XDP program id 42 in native mode";
    return b;
  }());
  EXPECT_SAYS(busy, "xdp_firewall");
  EXPECT_SAYS(busy, "id 42");
  EXPECT_SAYS(busy, "ip link set dev ls1 xdp off");

  const Error perm = xdp_attach_error(EPERM, a);
  EXPECT_SAYS(perm, "CAP_NET_ADMIN");
  EXPECT_SAYS(perm, "setcap");
  const Error load = xdp_load_error(EPERM, a);
  EXPECT_SAYS(load, "load the lrp XDP program for ls1");
  EXPECT_SAYS(load, "CAP_BPF");
  EXPECT_SAYS(load, "as root");

  AttachAttempt lo{.ifname = "lo", .mode = XdpMode::Native, .driver = "", .mtu = 65536};
  const Error none = xdp_attach_error(EOPNOTSUPP, lo);
  EXPECT_SAYS(none, "no native XDP support");
  EXPECT_SAYS(none, "--generic");

  EXPECT_SAYS(xdp_attach_error(ENOSPC, a), "numrxqueues");
  EXPECT_SAYS(xdp_attach_error(ENOTCONN, a), "no peer");
  EXPECT_SAYS(xdp_attach_error(EINVAL, a), "lro off");
  // Anything else still says what was tried and offers generic XDP.
  const Error other = xdp_attach_error(E2BIG, a);
  EXPECT_SAYS(other, "attach the lrp XDP program on ls1 in native mode");
  EXPECT_SAYS(other, "--generic");
  // In generic mode there is no generic fallback to offer.
  a.mode = XdpMode::Generic;
  EXPECT_FALSE(has(xdp_attach_error(E2BIG, a).message(), "--generic"));
}

// ---- against the kernel ----

// An XDP program that passes everything: r0 = XDP_PASS; exit.
int load_pass_program(const char* name, uint32_t flags) {
  const bpf_insn pass[] = {{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 2},
                           {.code = BPF_JMP | BPF_EXIT}};
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .prog_flags = flags);
  return bpf_prog_load(BPF_PROG_TYPE_XDP, name, "GPL", pass, 2, &opts);
}

class bpf_attach : public ::testing::Test {
 protected:
  void SetUp() override { LRP_REQUIRE_PRIVILEGES(); }

  void enter(const VethOptions& options) {
    bench_ = std::make_unique<VethBench>("att", options);
    ASSERT_TRUE(bench_->ok);
    guard_ = std::make_unique<NetnsGuard>(bench_->server_ns);
    ASSERT_TRUE(guard_->ok());
    ifindex_ = static_cast<int>(if_nametoindex(bench_->server_if.c_str()));
    ASSERT_GT(ifindex_, 0);
  }

  void TearDown() override {
    guard_.reset();
    bench_.reset();
  }

  std::unique_ptr<VethBench> bench_;
  std::unique_ptr<NetnsGuard> guard_;
  int ifindex_ = 0;
};

TEST_F(bpf_attach, NativeAtMtu9000BecauseTheProgramIsMultiBuffer) {
  ASSERT_NO_FATAL_FAILURE(enter({.mtu = 9000}));
  auto p = XdpProgram::attach(ifindex_, bench_->server_if, XdpMode::Native);
  ASSERT_TRUE(p.ok()) << p.error().message();
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  ASSERT_EQ(bpf_xdp_query(ifindex_, 0, &query), 0);
  EXPECT_EQ(query.attach_mode, XDP_ATTACHED_DRV);
  // A receive side that takes frames over several UMEM frames is content.
  p.value().reset();
  auto sg = XdpProgram::attach(ifindex_, bench_->server_if, XdpMode::Native,
                               {.max_frame = 2048 - 256, .multi_buffer = true});
  EXPECT_TRUE(sg.ok()) << sg.error().message();
}

TEST_F(bpf_attach, ReceiveSideThatCannotTakeTheFramesIsRefusedWithASentence) {
  ASSERT_NO_FATAL_FAILURE(enter({.mtu = 9000}));
  auto p =
      XdpProgram::attach(ifindex_, bench_->server_if, XdpMode::Native, {.max_frame = 2048 - 256});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, EMSGSIZE);
  EXPECT_SAYS(p.error(), "MTU is 9000");
  EXPECT_SAYS(p.error(), "1792 bytes");
  EXPECT_SAYS(p.error(), "ip link set dev " + bench_->server_if + " mtu 1774");
  // Nothing was attached on the way.
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  ASSERT_EQ(bpf_xdp_query(ifindex_, 0, &query), 0);
  EXPECT_EQ(query.prog_id, 0u);
  // At an MTU whose frames fit, the same limits attach.
  ASSERT_EQ(
      test::run("ip -n " + bench_->server_ns + " link set " + bench_->server_if + " mtu 1500"), 0);
  auto fits =
      XdpProgram::attach(ifindex_, bench_->server_if, XdpMode::Native, {.max_frame = 2048 - 256});
  EXPECT_TRUE(fits.ok()) << fits.error().message();
}

TEST_F(bpf_attach, WithoutMultiBufferVethRefusesTheMtuAsTheMessageSays) {
  // The kernel's own ERANGE, for an XDP program without xdp.frags: the
  // limit the message names is the one veth applies to its peer's MTU.
  ASSERT_NO_FATAL_FAILURE(enter({.mtu = 9000}));
  const int prog_fd = load_pass_program("single_buf", 0);
  ASSERT_GE(prog_fd, 0) << std::strerror(errno);
  auto attach_native = [&] {
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_DRV_MODE);
    const int fd = bpf_link_create(prog_fd, ifindex_, BPF_XDP, &opts);
    const int err = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    return err;
  };
  const int err = attach_native();
  EXPECT_EQ(err, ERANGE);
  const Error e = xdp_attach_error(err, {.ifname = bench_->server_if,
                                         .mode = XdpMode::Native,
                                         .driver = "veth",
                                         .mtu = 9000,
                                         .multi_buffer = false});
  EXPECT_SAYS(e, "MTU 9000");
  EXPECT_SAYS(e, "mtu " + std::to_string(veth_xdp_mtu_limit()));

  const std::string peer_mtu =
      "ip -n " + bench_->client_ns + " link set " + bench_->client_if + " mtu ";
  ASSERT_EQ(test::run(peer_mtu + std::to_string(veth_xdp_mtu_limit() + 1)), 0);
  EXPECT_EQ(attach_native(), ERANGE) << "the limit is lower than the message says";
  ASSERT_EQ(test::run(peer_mtu + std::to_string(veth_xdp_mtu_limit())), 0);
  EXPECT_EQ(attach_native(), 0) << "the limit is higher than the message says";
  // With xdp.frags the same MTU is fine: what lrp's own program declares.
  ASSERT_EQ(test::run(peer_mtu + "9000"), 0);
  const int frags_fd = load_pass_program("multi_buf", BPF_F_XDP_HAS_FRAGS);
  ASSERT_GE(frags_fd, 0);
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = XDP_FLAGS_DRV_MODE);
  const int link = bpf_link_create(frags_fd, ifindex_, BPF_XDP, &opts);
  EXPECT_GE(link, 0) << std::strerror(errno);
  if (link >= 0) close(link);
  close(frags_fd);
  close(prog_fd);
}

TEST_F(bpf_attach, AnotherOwnersProgramIsNamedAndLeftAlone) {
  ASSERT_NO_FATAL_FAILURE(enter({}));
  // Someone else's XDP program, attached the old way (no link).
  const int other = load_pass_program("their_xdp", 0);
  ASSERT_GE(other, 0) << std::strerror(errno);
  ASSERT_EQ(bpf_xdp_attach(ifindex_, other, XDP_FLAGS_DRV_MODE, nullptr), 0);

  auto p = XdpProgram::attach(ifindex_, bench_->server_if, XdpMode::Native);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, EBUSY);
  EXPECT_SAYS(p.error(), "'their_xdp'");
  EXPECT_SAYS(p.error(), "ip link set dev " + bench_->server_if + " xdp off");
  LIBBPF_OPTS(bpf_xdp_query_opts, query);
  ASSERT_EQ(bpf_xdp_query(ifindex_, 0, &query), 0);
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd(other, &info, &len), 0);
  EXPECT_EQ(query.prog_id, info.id) << "their program was replaced";

  ASSERT_EQ(bpf_xdp_detach(ifindex_, XDP_FLAGS_DRV_MODE, nullptr), 0);
  close(other);
  auto again = XdpProgram::attach(ifindex_, bench_->server_if, XdpMode::Native);
  EXPECT_TRUE(again.ok()) << again.error().message();
}

TEST_F(bpf_attach, ADeviceWithoutNativeXdpIsSentToGenericMode) {
  std::string error;
  auto netns = test::PrivateNetns::enter(&error);
  ASSERT_NE(netns, nullptr) << error;
  ASSERT_EQ(std::system("ip link set lo up"), 0);
  auto p = XdpProgram::attach(1, "lo", XdpMode::Native);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, EOPNOTSUPP);
  EXPECT_SAYS(p.error(), "no native XDP support");
  EXPECT_SAYS(p.error(), "--generic");
  auto generic = XdpProgram::attach(1, "lo", XdpMode::Generic);
  EXPECT_TRUE(generic.ok()) << generic.error().message();
}

TEST_F(bpf_attach, MissingCapabilitiesAreNamedWithTheRemedy) {
  ASSERT_NO_FATAL_FAILURE(enter({}));
  // A child keeps uid 0 but drops every capability, then tries.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct none[2] = {};
    if (syscall(SYS_capset, &header, none) != 0) _exit(2);
    auto p = XdpProgram::attach(ifindex_, bench_->server_if, XdpMode::Native);
    const std::string text = p.ok() ? "attached" : p.error().message();
    (void)!write(fds[1], text.data(), text.size());
    _exit(p.ok() ? 1 : 0);
  }
  close(fds[1]);
  std::string text;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "attached without capabilities";
  EXPECT_TRUE(has(text, "not permitted")) << text;
  EXPECT_TRUE(has(text, "setcap")) << text;
  EXPECT_TRUE(has(text, bench_->server_if)) << text;
}

}  // namespace
}  // namespace lrp
