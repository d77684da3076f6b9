// A minimal HTTP/1.0 GET over TCP for tests: scrapes and Prometheus API calls.
#pragma once

#include <cstdint>
#include <string>

namespace lrp::test {

struct HttpResponse {
  int status = 0;  // 0: no answer (connect failed, timeout)
  std::string body;
  std::string error;
};

// host: numeric IPv4. Gives up after timeout_ms in total.
HttpResponse http_get(const std::string& host, uint16_t port, const std::string& path,
                      int timeout_ms = 5000);

// Percent-encodes a query parameter value.
std::string url_encode(const std::string& text);

}  // namespace lrp::test
