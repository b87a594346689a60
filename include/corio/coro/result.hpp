// Result<T>: a value or the exception that replaced it (gather with return_exceptions).
#pragma once

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace corio {

/// The value type a coroutine returning T contributes to a tuple or vector of results:
/// `std::monostate` stands in for void (Python's None).
template <class T>
using value_or_none_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// Either a T or an exception, like one element of
/// `asyncio.gather(..., return_exceptions=True)`.
template <class T>
class Result {
 public:
  using value_type = value_or_none_t<T>;

  static Result from_value(value_type v) { return Result(std::in_place_index<0>, std::move(v)); }
  static Result from_exception(std::exception_ptr e) {
    return Result(std::in_place_index<1>, std::move(e));
  }

  [[nodiscard]] bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  /// The value, or rethrows the exception.
  value_type& value() & {
    if (!has_value()) std::rethrow_exception(std::get<1>(data_));
    return std::get<0>(data_);
  }
  value_type&& value() && { return std::move(value()); }
  /// The exception, or nullptr if there is a value.
  [[nodiscard]] std::exception_ptr error() const noexcept {
    return has_value() ? nullptr : std::get<1>(data_);
  }

 private:
  template <std::size_t I, class U>
  Result(std::in_place_index_t<I> i, U&& u) : data_(i, std::forward<U>(u)) {}
  std::variant<value_type, std::exception_ptr> data_;
};

}  // namespace corio
