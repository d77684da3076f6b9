// One result type for everything that can fail: the errno and what was being done.
#pragma once

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace lrp {

struct Error {
  int code = 0;         // errno value (positive); 0 when not from a syscall
  std::string context;  // what was being done: "bind udp port 7 on veth0 queue 0"

  std::string message() const {
    if (code == 0) return context;
    return context + ": " + std::strerror(code);
  }
};

inline Error make_error(int code, std::string context) {
  return Error{code < 0 ? -code : code, std::move(context)};
}
inline Error errno_error(std::string context) {
  return make_error(errno, std::move(context));
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *e_; }

 private:
  std::optional<Error> e_;
};

using Status = Result<void>;

}  // namespace lrp

// Propagate an error from an expression returning a Result/Status.
#define LRP_TRY(expr)                                          \
  do {                                                         \
    auto lrp_try_result_ = (expr);                             \
    if (!lrp_try_result_.ok()) return lrp_try_result_.error(); \
  } while (0)
