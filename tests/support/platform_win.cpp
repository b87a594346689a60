// Windows side of platform.hpp. Wine's ntdll has an export real Windows lacks; looking
// it up at run time keeps one binary correct on both.
#include <windows.h>

#include "support/platform.hpp"

namespace corio::testing {

bool under_wine() noexcept {
  const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && ::GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

}  // namespace corio::testing
