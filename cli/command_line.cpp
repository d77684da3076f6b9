#include "cli/command_line.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace lrp::cli {

namespace {

constexpr size_t kWidth = 100;      // wrap the synopsis here
constexpr size_t kHelpColumn = 24;  // option descriptions start here

Error bad(std::string why) {
  return make_error(0, std::move(why));
}

}  // namespace

CommandLine::CommandLine(std::string program, std::string about)
    : program_(std::move(program)), about_(std::move(about)) {}

CommandLine& CommandLine::option(std::string name, std::string value_name, std::string help,
                                 Setter set) {
  options_.push_back(Item{std::move(name), std::move(value_name), std::move(help), std::move(set)});
  last_ = Last::Option;
  return *this;
}

CommandLine& CommandLine::flag(std::string name, std::string help, bool* out) {
  options_.push_back(Item{std::move(name), "", std::move(help), nullptr, out});
  last_ = Last::Option;
  return *this;
}

CommandLine::Item* CommandLine::last_item() {
  switch (last_) {
    case Last::Option:
      return &options_.back();
    case Last::Positional:
      return &positionals_.back();
    case Last::Command:
      return &command_;
    case Last::None:
      break;
  }
  return nullptr;
}

CommandLine& CommandLine::required() {
  if (Item* item = last_item()) item->required = true;
  return *this;
}

CommandLine& CommandLine::positional(std::string value_name, std::string help, Setter set) {
  positionals_.push_back(Item{"", std::move(value_name), std::move(help), std::move(set)});
  last_ = Last::Positional;
  return *this;
}

CommandLine& CommandLine::command(std::string value_name, std::string help,
                                  std::vector<std::string>* out) {
  command_ = Item{"", std::move(value_name), std::move(help), nullptr};
  command_out_ = out;
  last_ = Last::Command;
  return *this;
}

CommandLine& CommandLine::note(std::string text) {
  notes_.push_back(std::move(text));
  return *this;
}

const CommandLine::Item* CommandLine::find_option(std::string_view name) const {
  for (const Item& o : options_)
    if (o.name == name) return &o;
  return nullptr;
}

Result<CommandLine::Outcome> CommandLine::parse(int argc, const char* const* argv) const {
  std::vector<const Item*> seen;
  size_t next_positional = 0;
  bool options_ended = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (!options_ended && arg == "--") {
      options_ended = true;
      if (command_out_ != nullptr) {
        for (++i; i < argc; ++i) command_out_->emplace_back(argv[i]);
        break;
      }
      continue;
    }
    if (!options_ended && (arg == "-h" || arg == "--help")) return Outcome::Help;
    if (!options_ended && arg.size() > 1 && arg[0] == '-') {
      const size_t eq = arg.find('=');
      const std::string name = arg.substr(0, eq);
      const Item* o = name.size() > 2 && name[1] == '-' ? find_option(name) : nullptr;
      if (o == nullptr) return bad("unknown option '" + name + "'");
      seen.push_back(o);
      if (o->flag != nullptr) {
        if (eq != std::string::npos) return bad(name + " takes no value");
        *o->flag = true;
        continue;
      }
      std::string value;
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return bad(name + " needs a value (" + name + " " + o->value_name + ")");
      }
      if (Status st = o->set(value); !st) return bad(name + ": " + st.error().context);
      continue;
    }
    if (next_positional < positionals_.size()) {
      const Item& p = positionals_[next_positional++];
      seen.push_back(&p);
      if (Status st = p.set(arg); !st) return bad(p.value_name + ": " + st.error().context);
      continue;
    }
    if (command_out_ != nullptr) {
      for (; i < argc; ++i) command_out_->emplace_back(argv[i]);
      break;
    }
    return bad("unexpected argument '" + arg + "'");
  }
  auto given = [&](const Item& item) {
    for (const Item* s : seen)
      if (s == &item) return true;
    return false;
  };
  for (const Item& p : positionals_)
    if (p.required && !given(p)) return bad(p.value_name + " is required");
  for (const Item& o : options_)
    if (o.required && !given(o)) return bad(o.name + " " + o.value_name + " is required");
  if (command_out_ != nullptr && command_.required && command_out_->empty())
    return bad(command_.value_name + " is required");
  return Outcome::Run;
}

std::optional<int> CommandLine::parse_or_exit(int argc, const char* const* argv) const {
  auto outcome = parse(argc, argv);
  if (!outcome) return fail(outcome.error().message());
  if (outcome.value() == Outcome::Help) {
    std::fputs(help().c_str(), stdout);
    std::fflush(stdout);
    return 0;
  }
  return std::nullopt;
}

int CommandLine::fail(std::string_view why) const {
  std::fprintf(stderr, "%s: %.*s\n%s'%s --help' describes every option.\n", program_.c_str(),
               static_cast<int>(why.size()), why.data(), synopsis().c_str(), program_.c_str());
  return 2;
}

std::string CommandLine::synopsis() const {
  std::vector<std::string> words;
  for (const Item& p : positionals_)
    words.push_back(p.required ? p.value_name : "[" + p.value_name + "]");
  for (const Item& o : options_) {
    std::string w = o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    words.push_back(o.required ? w : "[" + w + "]");
  }
  if (command_out_ != nullptr)
    words.push_back(command_.required ? "-- " + command_.value_name
                                      : "[-- " + command_.value_name + "]");
  std::string out = "usage: " + program_;
  const size_t indent = out.size() + 1;
  size_t line_start = 0;
  for (const std::string& w : words) {
    if (out.size() - line_start + 1 + w.size() > kWidth && out.size() - line_start > indent) {
      out += "\n";
      line_start = out.size();
      out += std::string(indent - 1, ' ');
    }
    out += " " + w;
  }
  return out + "\n";
}

std::string CommandLine::help() const {
  std::string out = synopsis();
  if (!about_.empty()) out += "\n" + about_ + "\n";
  auto line = [&](std::string left, const std::string& text) {
    left = "  " + left;
    if (left.size() + 2 > kHelpColumn)
      left += "\n" + std::string(kHelpColumn, ' ');
    else
      left += std::string(kHelpColumn - left.size(), ' ');
    out += left + text + "\n";
  };
  if (!positionals_.empty() || command_out_ != nullptr) {
    out += "\narguments:\n";
    for (const Item& p : positionals_) line(p.value_name, p.help);
    if (command_out_ != nullptr) line(command_.value_name, command_.help);
  }
  out += "\noptions:\n";
  for (const Item& o : options_)
    line(o.name + (o.value_name.empty() ? "" : " " + o.value_name), o.help);
  line("-h, --help", "print this help and exit");
  if (!notes_.empty()) out += "\n";
  for (const std::string& n : notes_) out += n + "\n";
  return out;
}

Setter text(std::string* out) {
  return [out](const std::string& value) -> Status {
    *out = value;
    return {};
  };
}

Setter one_of(std::string* out, std::vector<std::string> choices) {
  return [out, choices = std::move(choices)](const std::string& value) -> Status {
    for (const std::string& c : choices) {
      if (c == value) {
        *out = value;
        return {};
      }
    }
    std::string list;
    for (const std::string& c : choices) list += (list.empty() ? "" : ", ") + c;
    return bad("'" + value + "' is not one of " + list);
  };
}

Result<int64_t> parse_integer(const std::string& text, int64_t min, int64_t max) {
  const bool digits_only =
      !text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-');
  char* end = nullptr;
  errno = 0;
  const long long v = digits_only ? std::strtoll(text.c_str(), &end, 10) : 0;
  if (!digits_only || end == text.c_str() || *end != '\0')
    return bad("'" + text + "' is not a whole number");
  if (errno == ERANGE || v < min || v > max)
    return bad("'" + text + "' is out of range (" + std::to_string(min) + ".." +
               std::to_string(max) + ")");
  return static_cast<int64_t>(v);
}

Setter real(double* out, double min, double max) {
  return [out, min, max](const std::string& text) -> Status {
    char* end = nullptr;
    const double v = text.empty() || std::isspace(static_cast<unsigned char>(text[0]))
                         ? NAN
                         : std::strtod(text.c_str(), &end);
    if (std::isnan(v) || end == nullptr || *end != '\0')
      return bad("'" + text + "' is not a number");
    if (!(v >= min && v <= max)) {
      char range[64];
      std::snprintf(range, sizeof(range), " is out of range (%g..%g)", min, max);
      return bad("'" + text + "'" + range);
    }
    *out = v;
    return {};
  };
}

}  // namespace lrp::cli
