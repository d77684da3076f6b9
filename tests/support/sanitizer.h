// Whether this test binary is built with a sanitizer. Under ThreadSanitizer
// or AddressSanitizer code runs several times slower and unevenly, so a test
// that compares latencies checks its threads there but not its ratios.
#pragma once

namespace lrp::test {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif
#else
inline constexpr bool kSanitizedBuild = false;
#endif

}  // namespace lrp::test
