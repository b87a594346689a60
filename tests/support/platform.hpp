// What the tests need to know about where they run, beyond what the build chose.
#pragma once

namespace corio::testing {

/// Whether this Windows program runs under Wine (its ntdll exports wine_get_version);
/// false on real Windows and on every other platform.
bool under_wine() noexcept;

}  // namespace corio::testing
