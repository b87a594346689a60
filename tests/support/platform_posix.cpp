// POSIX side of platform.hpp: Wine only runs Windows programs.
#include "support/platform.hpp"

namespace corio::testing {

bool under_wine() noexcept {
  return false;
}

}  // namespace corio::testing
