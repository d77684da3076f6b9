// Replays the committed fuzz corpus through the same checks the fuzz targets
// run, so every build (not only the clang fuzz build) holds the XDP program
// to its reference and the parser to its properties. Also checks that the
// malformed-frame catalogue says what the reference and the parser say.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "lrp/udp_frame.h"
#include "tests/fuzz/userspace_checks.h"
#include "tests/fuzz/xdp_differential.h"
#include "tests/fuzz/xdp_reference.h"
#include "tests/reliability/malformed_frames.h"
#include "tests/support/privileges.h"

namespace lrp::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<std::pair<std::string, std::vector<uint8_t>>> corpus(const char* target) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> files;
  const fs::path dir = fs::path(LRP_FUZZ_CORPUS_DIR) / target;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    files.emplace_back(entry.path().filename().string(),
                       std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {}));
  }
  return files;
}

TEST(fuzz_corpus, XdpProgramAgreesWithTheReference) {
  LRP_REQUIRE_PRIVILEGES();
  std::string error;
  auto diff = XdpDifferential::open(&error);
  ASSERT_NE(diff, nullptr) << error;
  const auto files = corpus("xdp_diff");
  ASSERT_GE(files.size(), 60u);
  for (const auto& [name, bytes] : files) EXPECT_EQ(diff->check(bytes), "") << name;
  EXPECT_GE(diff->runs(), files.size() - 5) << "most seeds must reach the program";
}

TEST(fuzz_corpus, UdpParsePropertiesHold) {
  const auto files = corpus("udp_parse");
  ASSERT_GE(files.size(), 30u);
  for (const auto& [name, bytes] : files) EXPECT_EQ(check_udp_parse(bytes), "") << name;
}

TEST(fuzz_corpus, ChecksumPropertiesHold) {
  const auto files = corpus("checksum");
  ASSERT_GE(files.size(), 30u);
  for (const auto& [name, bytes] : files) EXPECT_EQ(check_checksum(bytes), "") << name;
}

// The catalogue's expectations agree with the reference (at XDP, with the
// port bound on both families) and with the parser (in user space).
TEST(fuzz_corpus, CatalogueMatchesReferenceAndParser) {
  test::CatalogueTarget target;
  ReferenceMaps maps;
  maps.sockets.insert({0, kSocketSlot});
  // The bench server as the live test's engine sets it up.
  maps.mac = target.server_mac;
  for (const char* a : {test::kServer4, test::kServer6})
    maps.addresses[test::addr16(a)] = LRP_ADDR_LOCAL;
  for (const char* a : {"198.18.0.255", "255.255.255.255"})
    maps.addresses[test::addr16(a)] = LRP_ADDR_BROADCAST;
  for (int family : {4, 6}) {
    lrp_flow_key key{};
    key.kind = LRP_FLOW_WILDCARD;
    key.family = static_cast<uint8_t>(family);
    key.local_port = htons(target.port);
    maps.add_flow(key, kSocketSlot);
  }
  const auto kinds = test::malformed_catalogue(target);
  EXPECT_GE(kinds.size(), 30u);
  for (const auto& k : kinds) {
    SCOPED_TRACE(k.name);
    const Decision d = classify(k.frame, maps);
    const ParseResult parsed = parse_udp_frame(k.frame, {.verify_checksums = true});
    switch (k.outcome) {
      case test::Outcome::XdpPass:
        EXPECT_EQ(d.verdict, XDP_PASS) << describe(d);
        EXPECT_EQ(d.reason, k.xdp) << describe(d);
        break;
      case test::Outcome::UserDrop:
        EXPECT_EQ(d.verdict, XDP_REDIRECT) << describe(d);
        ASSERT_FALSE(parsed.ok());
        EXPECT_EQ(parsed.reason(), k.drop) << to_string(parsed.reason());
        break;
      case test::Outcome::Delivered:
      case test::Outcome::XskTooLarge:
      case test::Outcome::LinkTooLarge: {
        EXPECT_EQ(d.verdict, XDP_REDIRECT) << describe(d);
        ASSERT_TRUE(parsed.ok()) << to_string(parsed.reason());
        const std::string payload(parsed.view().payload.begin(), parsed.view().payload.end());
        EXPECT_EQ(payload.rfind(test::marker(k.name), 0), 0u) << payload.substr(0, 40);
        break;
      }
    }
  }
}

}  // namespace
}  // namespace lrp::fuzz
