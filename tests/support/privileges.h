// Privileged tests (root, namespaces, XDP) run everywhere they can; in CI they
// must run, so a missing privilege fails there instead of skipping.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace lrp::test {

// Empty when root can create namespaces and load BPF; otherwise the reason.
std::string missing_privileges();
bool in_ci();

}  // namespace lrp::test

#define LRP_REQUIRE_PRIVILEGES()                                                     \
  do {                                                                               \
    const std::string lrp_missing_ = ::lrp::test::missing_privileges();              \
    if (!lrp_missing_.empty()) {                                                     \
      if (::lrp::test::in_ci()) FAIL() << "CI must run this test: " << lrp_missing_; \
      GTEST_SKIP() << lrp_missing_;                                                  \
    }                                                                                \
  } while (0)
