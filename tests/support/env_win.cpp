// Windows side of scoped_env.hpp: an empty value removes the variable (_putenv_s).
#include <cstdlib>

#include "support/scoped_env.hpp"

namespace corio::testing {

void set_env(const char* name, const char* value) {
  ::_putenv_s(name, value != nullptr ? value : "");
}

}  // namespace corio::testing
