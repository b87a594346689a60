// Setting environment variables from tests: POSIX has setenv/unsetenv, Windows
// _putenv_s, so the one call differs per platform (env_posix.cpp, env_win.cpp).
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace corio::testing {

/// Sets `name` to `value`, or removes it when `value` is nullptr.
void set_env(const char* name, const char* value);

/// Sets (or with nullptr unsets) an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    set_env(name, value);
  }
  ~ScopedEnv() { set_env(name_, old_ ? old_->c_str() : nullptr); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace corio::testing
