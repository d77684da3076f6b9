// The command-line parser every lrp program uses, so they all behave alike:
// long options (--name VALUE or --name=VALUE), flags, positional arguments
// and an optional command after "--"; -h/--help prints the usage on stdout
// and exits 0; anything the program does not understand prints the reason
// and the usage on stderr and exits 2.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "lrp/result.h"

namespace lrp::cli {

// Takes an option's text and stores it; the error says why the text is not
// acceptable ("'x' is not a number"), without the option's name.
using Setter = std::function<Status(const std::string& text)>;

class CommandLine {
 public:
  // program: the name in messages and the usage; about: what the program
  // does, printed under the usage by --help.
  CommandLine(std::string program, std::string about);

  // --name VALUE. Chain required() to make it mandatory.
  CommandLine& option(std::string name, std::string value_name, std::string help, Setter set);
  // --name, no value.
  CommandLine& flag(std::string name, std::string help, bool* out);
  // The option or positional declared last must be given.
  CommandLine& required();
  // A word that is not an option, in the order declared; optional unless
  // required() follows.
  CommandLine& positional(std::string value_name, std::string help, Setter set);
  // Everything after "--", or from the first word that is neither an option
  // nor a declared positional: the command the program runs.
  CommandLine& command(std::string value_name, std::string help, std::vector<std::string>* out);
  // A line printed after the options by --help (environment, examples).
  CommandLine& note(std::string text);

  enum class Outcome { Run, Help };
  // Parses without printing anything: Run (values stored), Help (asked
  // for), or the error.
  Result<Outcome> parse(int argc, const char* const* argv) const;

  // What main() calls: nothing when the program should go on; otherwise
  // the exit status, after the usage has been printed (0 for --help, 2 for
  // a bad command line).
  std::optional<int> parse_or_exit(int argc, const char* const* argv) const;

  // For checks across options after parsing: prints "PROGRAM: why" and the
  // usage on stderr and returns 2.
  int fail(std::string_view why) const;

  // "usage: PROGRAM --dst ADDR [--rate PPS] ..." (one line per ~100 columns).
  std::string synopsis() const;
  // The synopsis, what the program does and one line per option.
  std::string help() const;

  const std::string& program() const { return program_; }

 private:
  struct Item {
    std::string name;        // "--port"; empty for positionals and the command
    std::string value_name;  // "P"; empty for flags
    std::string help;
    Setter set;
    bool* flag = nullptr;
    bool required = false;
  };
  const Item* find_option(std::string_view name) const;

  std::string program_, about_;
  std::vector<Item> options_;
  std::vector<Item> positionals_;
  std::vector<std::string> notes_;
  Item command_;
  std::vector<std::string>* command_out_ = nullptr;
  Item* last_item();  // the one declared last, for required()
  enum class Last { None, Option, Positional, Command } last_ = Last::None;
};

// Setters with the same messages in every program.
Setter text(std::string* out);
// One of the given words.
Setter one_of(std::string* out, std::vector<std::string> choices);
// A whole number (decimal) in [min, max].
Result<int64_t> parse_integer(const std::string& text, int64_t min, int64_t max);
template <class Int>
requires std::is_integral_v<Int> Setter integer(Int* out, int64_t min, int64_t max) {
  return [out, min, max](const std::string& text) -> Status {
    auto v = parse_integer(text, min, max);
    if (!v) return v.error();
    *out = static_cast<Int>(v.value());
    return {};
  };
}
// A decimal number in [min, max].
Setter real(double* out, double min, double max);

}  // namespace lrp::cli
