// POSIX side of scoped_env.hpp.
#include <cstdlib>

#include "support/scoped_env.hpp"

namespace corio::testing {

void set_env(const char* name, const char* value) {
  if (value != nullptr) {
    ::setenv(name, value, 1);
  } else {
    ::unsetenv(name);
  }
}

}  // namespace corio::testing
