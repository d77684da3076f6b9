// lrpctl's output: the records lrpd answers a query with, as a table for
// people or as JSON for scripts.
#pragma once

#include <string>
#include <vector>

#include "service/protocol.h"

namespace lrp::service {

std::string format_status(const DaemonStatus& daemon, const std::vector<EngineStatus>& engines,
                          bool json, uint64_t now_realtime_ns);
std::string format_apps(const std::vector<AppStatus>& apps, bool json);
std::string format_sockets(const std::vector<SocketStatus>& sockets, bool json);

}  // namespace lrp::service
