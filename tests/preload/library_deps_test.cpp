// What the preload libraries bring into a served program (readelf's NEEDED
// entries): the lrpd library brings no engine (libbpf, libxdp) and no
// metrics server (prometheus-cpp, civetweb); the in-process library has both,
// which also shows the check sees them when they are there.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "tests/preload/child_process.h"

namespace lrp::test {
namespace {

const std::vector<std::string> kEngineAndExporter = {"libbpf", "libxdp", "prometheus", "civetweb"};

std::vector<std::string> needed(const std::string& library) {
  std::string out;
  EXPECT_EQ(run_capture({"readelf", "-d", library}, 20000, &out), 0) << out;
  std::vector<std::string> names;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("(NEEDED)") == std::string::npos) continue;
    const size_t open = line.find('['), close = line.find(']');
    if (open != std::string::npos && close > open)
      names.push_back(line.substr(open + 1, close - open - 1));
  }
  return names;
}

std::vector<std::string> matching(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& n : names)
    for (const auto& word : kEngineAndExporter)
      if (n.find(word) != std::string::npos) out.push_back(n);
  return out;
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += n + " ";
  return s;
}

TEST(PreloadLibraries, TheLrpdLibraryCarriesNoEngineAndNoExporter) {
  const auto names = needed(std::string(LRP_LIB_DIR) + "/liblrp-preload.so");
  ASSERT_FALSE(names.empty()) << "readelf found no NEEDED entries";
  EXPECT_TRUE(matching(names).empty()) << "liblrp-preload.so needs " << joined(matching(names));
}

TEST(PreloadLibraries, TheInProcessLibraryCarriesBoth) {
  const auto names = needed(std::string(LRP_LIB_DIR) + "/liblrp-preload-in-process.so");
  for (const auto& word : kEngineAndExporter) {
    bool found = false;
    for (const auto& n : names) found = found || n.find(word) != std::string::npos;
    EXPECT_TRUE(found) << "no " << word << " among " << joined(names);
  }
}

}  // namespace
}  // namespace lrp::test
