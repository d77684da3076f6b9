// libFuzzer target: parse_udp_frame on arbitrary bytes.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/userspace_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string broken = lrp::fuzz::check_udp_parse({data, size});
  if (!broken.empty()) {
    std::fprintf(stderr, "fuzz_udp_parse: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
