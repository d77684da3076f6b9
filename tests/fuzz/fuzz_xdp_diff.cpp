// libFuzzer target: the XDP program against the reference classifier.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/xdp_differential.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static lrp::fuzz::XdpDifferential* diff = [] {
    std::string error;
    auto d = lrp::fuzz::XdpDifferential::open(&error);
    if (d == nullptr) {
      std::fprintf(stderr, "fuzz_xdp_diff: %s (needs root)\n", error.c_str());
      std::abort();
    }
    return d.release();
  }();
  const std::string difference = diff->check({data, size});
  if (!difference.empty()) {
    std::fprintf(stderr, "fuzz_xdp_diff: %s\n", difference.c_str());
    std::abort();
  }
  return 0;
}
