// libFuzzer target: the checksum code against a naive RFC 1071 sum.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/userspace_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string broken = lrp::fuzz::check_checksum({data, size});
  if (!broken.empty()) {
    std::fprintf(stderr, "fuzz_checksum: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
