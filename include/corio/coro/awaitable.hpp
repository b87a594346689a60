// Awaitable: what `co_await` accepts inside a corio coroutine, as a concept, and the type
// it gives. gather, wait_for, shield and Timeout::run take any Awaitable (asyncio takes
// any awaitable in all of them).
#pragma once

#include <concepts>
#include <coroutine>
#include <type_traits>
#include <utility>

#include "corio/coro/coro.hpp"

namespace corio {
namespace detail {

/// An awaiter proper: what `co_await` ends up calling (after operator co_await, if any).
/// corio's promises have no await_transform, so this is the whole rule.
template <class W>
concept AwaiterOf = requires(W& w, std::coroutine_handle<Promise<void>> h) {
  { w.await_ready() } -> std::convertible_to<bool>;
  w.await_suspend(h);
  w.await_resume();
};

template <class A>
concept MemberCoAwait = requires(A&& a) {
  std::forward<A>(a).operator co_await();
};
template <class A>
concept FreeCoAwait = requires(A&& a) {
  operator co_await(std::forward<A>(a));
};

/// The awaiter `co_await a` uses: the result of a's operator co_await, else a itself.
template <class A>
decltype(auto) get_awaiter(A&& a) {
  if constexpr (MemberCoAwait<A>) {
    return std::forward<A>(a).operator co_await();
  } else if constexpr (FreeCoAwait<A>) {
    return operator co_await(std::forward<A>(a));
  } else {
    return std::forward<A>(a);
  }
}

template <class A>
using awaiter_t = std::remove_reference_t<decltype(get_awaiter(std::declval<A>()))>;

}  // namespace detail

/// `co_await a` compiles in a corio coroutine when `a` is an expression of type A (a
/// reference type means an lvalue): a Coro, a Task, a Future, corio's own awaiters
/// (sleep(), I/O calls), or a user type with await_ready/await_suspend/await_resume or an
/// operator co_await (member or free). Like Python's "awaitable".
template <class A>
concept Awaitable = detail::AwaiterOf<detail::awaiter_t<A>>;

/// What `co_await a` gives for an Awaitable A (may be void or a reference).
template <Awaitable A>
using await_result_t = decltype(std::declval<detail::awaiter_t<A>&>().await_resume());

}  // namespace corio
