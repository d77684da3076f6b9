#include "sockets/api/options.h"

#include <charconv>

namespace lrp::sockets {

namespace {

constexpr Option kAll[] = {Option::ReceiveQueueBound, Option::ApplicationWeight, Option::HeldFrames,
                           Option::ReceiveLocalAddress};

Status positive(Option option, int64_t value, int64_t max) {
  if (value < 1 || value > max)
    return make_error(EINVAL, std::string("option ") + to_string(option) + " = " +
                                  std::to_string(value) + ": must be 1.." + std::to_string(max));
  return {};
}

}  // namespace

const char* to_string(Option option) {
  switch (option) {
    case Option::ReceiveQueueBound:
      return "queue_bound";
    case Option::ApplicationWeight:
      return "weight";
    case Option::HeldFrames:
      return "held_frames";
    case Option::ReceiveLocalAddress:
      return "pktinfo";
  }
  return "unknown";
}

Result<Option> parse_option(std::string_view name) {
  for (Option o : kAll)
    if (name == to_string(o)) return o;
  return make_error(ENOPROTOOPT, "socket option '" + std::string(name) +
                                     "' is not supported by lrp (queue_bound, weight, "
                                     "held_frames, pktinfo, application)");
}

Status set_option(SocketConfig& config, Option option, int64_t value) {
  switch (option) {
    case Option::ReceiveQueueBound:
      LRP_TRY(positive(option, value, 1 << 20));
      config.application.queue_bound = static_cast<uint32_t>(value);
      return {};
    case Option::ApplicationWeight:
      LRP_TRY(positive(option, value, 1 << 16));
      config.application.weight = static_cast<uint32_t>(value);
      return {};
    case Option::HeldFrames:
      LRP_TRY(positive(option, value, 1 << 20));
      config.application.held_cap = static_cast<uint32_t>(value);
      return {};
    case Option::ReceiveLocalAddress:
      if (value != 0 && value != 1)
        return make_error(EINVAL, "option pktinfo = " + std::to_string(value) + ": must be 0 or 1");
      config.receive_local_address = value == 1;
      return {};
  }
  return make_error(ENOPROTOOPT, "socket option " + std::to_string(static_cast<int>(option)));
}

int64_t get_option(const SocketConfig& config, Option option) {
  switch (option) {
    case Option::ReceiveQueueBound:
      return config.application.queue_bound;
    case Option::ApplicationWeight:
      return config.application.weight;
    case Option::HeldFrames:
      return config.application.held_cap;
    case Option::ReceiveLocalAddress:
      return config.receive_local_address ? 1 : 0;
  }
  return 0;
}

Status apply_option_list(SocketConfig& config, std::string_view list) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      return make_error(EINVAL, "socket option '" + std::string(item) + "': expected NAME=VALUE");
    const std::string_view name = item.substr(0, eq);
    const std::string_view text = item.substr(eq + 1);
    if (name == "application") {
      config.application.name = std::string(text);
      continue;
    }
    auto option = parse_option(name);
    if (!option) return option.error();
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
      return make_error(EINVAL, "socket option " + std::string(name) + ": '" + std::string(text) +
                                    "' is not a number");
    LRP_TRY(set_option(config, option.value(), value));
  }
  return {};
}

}  // namespace lrp::sockets
