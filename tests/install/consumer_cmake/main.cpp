// A program outside the corio tree, built against an installed corio by
// tests/install/check_install.sh: once through find_package, once through pkg-config.
#include <corio/corio.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

using namespace std::chrono_literals;

namespace {

corio::Coro<int> one() {
  co_return 1;
}

corio::Coro<std::string> main_coro() {
  co_await corio::sleep(1ms);

  auto [a, b] = corio::Socket::pair();
  co_await a.send_all("ping");
  char buf[8];
  std::size_t n = co_await b.recv(buf, sizeof buf);  // bound first: see README (g++ 12)
  if (std::string_view(buf, n) != "ping") co_return "FAILED: socket pair";

  // Symmetric transfer in this program's own coroutines: GCC emits the hand-over as a
  // tail call only with -foptimize-sibling-calls, which the package must pass on
  // (corio::corio's interface options, corio.pc's Cflags); without it a million
  // synchronous awaits overflow the stack at -O0.
  long sum = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    int v = co_await one();
    sum += v;
  }
  if (sum != 1'000'000) co_return "FAILED: await loop";

  co_return std::string(corio::current_backend());
}

}  // namespace

int main() {
  std::string result = corio::run(main_coro());
  if (result.starts_with("FAILED")) {
    std::printf("corio consumer: %s\n", result.c_str());
    return 1;
  }
  std::printf("corio consumer: ok, backend %s\n", result.c_str());
  return 0;
}
