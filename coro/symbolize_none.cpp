// symbolize() where the build found no way to read symbol tables (see
// coro/symbolize_elf.cpp): coroutine names are unknown, tasks are still "Task-N".
#include "coro/debug.hpp"

namespace corio::detail {

std::string symbolize(const void* /*address*/) {
  return {};
}

}  // namespace corio::detail
