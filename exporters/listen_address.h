// HOST:PORT for the metrics server: parsed, and tried once with a plain socket
// so that a failure reports the errno the web server would not tell.
#pragma once

#include <cstdint>
#include <string>

#include "lrp/result.h"

namespace lrp::exporters {

struct ListenAddress {
  std::string host;   // numeric, without brackets: "127.0.0.1", "::1"
  uint16_t port = 0;  // 0: the kernel picks one
  bool v6 = false;
  // The form the embedded web server takes: "127.0.0.1:9100", "[::1]:9100".
  std::string server_form() const;
};

// Accepts "127.0.0.1:9100", "[::1]:9100" and "localhost:9100".
Result<ListenAddress> parse_listen_address(const std::string& text);
// Binds and closes a TCP socket on the address.
Status check_can_listen(const ListenAddress& address, const std::string& text);

}  // namespace lrp::exporters
