// What the tests need to know about where they run, beyond what the build chose.
#pragma once

namespace corio::testing {

/// Whether this Windows program runs under Wine (its ntdll exports wine_get_version);
/// false on real Windows and on every other platform.
bool under_wine() noexcept;

}  // namespace corio::testing

/// Skips the calling test where a peer's reset reads as end of stream. Wine 8.0 reads
/// an abortive close (SO_LINGER 0) as EOF, not WSAECONNRESET: a plain blocking Winsock
/// program (no corio) shows the same under wine64, while Windows and Linux report the
/// reset. Real Windows still runs these tests.
#define CORIO_SKIP_WHERE_A_RESET_READS_AS_EOF()                                               \
  do {                                                                                        \
    if (::corio::testing::under_wine()) {                                                     \
      GTEST_SKIP() << "Wine 8.0 reports a peer's reset (SO_LINGER 0 close) as end of stream"; \
    }                                                                                         \
  } while (false)
