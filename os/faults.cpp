// The fault injector behind os/faults.hpp. Random numbers come from a
// counter hashed with the seed (splitmix64), so loops on several threads can share it
// without a lock and one thread's sequence repeats from the same seed.
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

#include "corio/os/net.hpp"
#include "os/faults.hpp"

namespace corio::faults {
namespace detail {
std::atomic<bool> g_active{false};
}  // namespace detail

namespace {

constexpr const char* kind_names[] = {"eintr", "eagain", "short", "econnreset", "accept"};
static_assert(std::size(kind_names) == static_cast<std::size_t>(Kind::count));

// The plan is written only while no loop runs an operation (enable() before the test's
// run, or once from load_env()), read by the hooks.
std::atomic<std::uint64_t> g_seed{1};
std::atomic<std::uint64_t> g_threshold{0};  // rate scaled to 2^64
std::atomic<double> g_rate{0};
std::atomic<unsigned> g_kinds{0};
std::atomic<native_handle> g_only{-1};
std::atomic<std::uint64_t> g_counter{0};
std::atomic<std::uint64_t> g_injected[static_cast<std::size_t>(Kind::count)];

std::uint64_t next_random() noexcept {
  std::uint64_t z = g_seed.load(std::memory_order_relaxed) +
                    0x9e3779b97f4a7c15ULL * (g_counter.fetch_add(1, std::memory_order_relaxed) + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void count(Kind k) noexcept {
  g_injected[static_cast<std::size_t>(k)].fetch_add(1, std::memory_order_relaxed);
}

Kind kind_named(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kind_names); ++i) {
    if (name == kind_names[i]) return static_cast<Kind>(i);
  }
  throw std::invalid_argument("corio: CORIO_FAULTS: unknown kind '" + std::string(name) +
                              "' (known: eintr, eagain, short, econnreset, accept)");
}

void report_at_exit() {
  std::fprintf(stderr, "corio: faults injected: %s\n", summary().c_str());
}

}  // namespace

namespace detail {

bool roll(Kind k, native_handle h) noexcept {
  if ((g_kinds.load(std::memory_order_relaxed) & bit(k)) == 0) return false;
  const native_handle only = g_only.load(std::memory_order_relaxed);
  if (only >= 0 && h != only) return false;
  if (next_random() >= g_threshold.load(std::memory_order_relaxed)) return false;
  count(k);
  return true;
}

std::size_t shorten(native_handle h, std::size_t length) noexcept {
  if (length < 2 || !roll(Kind::short_io, h)) return length;
  if (!net::is_stream(h)) {  // a datagram cut short would lose its tail: undo
    g_injected[static_cast<std::size_t>(Kind::short_io)].fetch_sub(1, std::memory_order_relaxed);
    return length;
  }
  return 1 + next_random() % (length - 1);
}

int accept_errno() noexcept {
  // What accept(2) may say while the pending connection stays queued (EMFILE, ENFILE,
  // ENOMEM, ENOBUFS: out of a resource) or after the peer gave up (ECONNABORTED).
  static constexpr int errors[] = {EMFILE, ENFILE, ENOMEM, ENOBUFS, ECONNABORTED};
  return errors[next_random() % std::size(errors)];
}

}  // namespace detail

void enable(const Plan& plan) noexcept {
  const double rate = plan.rate < 0 ? 0 : plan.rate > 1 ? 1 : plan.rate;
  g_seed.store(plan.seed, std::memory_order_relaxed);
  g_counter.store(0, std::memory_order_relaxed);
  g_threshold.store(
      rate >= 1 ? UINT64_MAX : static_cast<std::uint64_t>(rate * 18446744073709551616.0),
      std::memory_order_relaxed);
  g_kinds.store(plan.kinds, std::memory_order_relaxed);
  g_rate.store(rate, std::memory_order_relaxed);
  g_only.store(plan.only, std::memory_order_relaxed);
  detail::g_active.store(plan.kinds != 0 && rate > 0, std::memory_order_release);
}

void disable() noexcept {
  detail::g_active.store(false, std::memory_order_release);
}

Plan current() noexcept {
  Plan p;
  if (!active()) return p;
  p.seed = g_seed.load(std::memory_order_relaxed);
  p.rate = g_rate.load(std::memory_order_relaxed);
  p.kinds = g_kinds.load(std::memory_order_relaxed);
  p.only = g_only.load(std::memory_order_relaxed);
  return p;
}

Plan parse(std::string_view spec, bool* report) {
  Plan plan;
  std::string key;
  while (!spec.empty()) {
    const std::size_t comma = spec.find(',');
    std::string_view token = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    const std::size_t eq = token.find('=');
    std::string_view value = token;
    if (eq != std::string_view::npos) {
      key = std::string(token.substr(0, eq));
      value = token.substr(eq + 1);
    } else if (key != "kinds") {
      throw std::invalid_argument("corio: CORIO_FAULTS: expected key=value, got '" +
                                  std::string(token) + "'");
    }
    const std::string v(value);
    char* end = nullptr;
    if (key == "seed") {
      plan.seed = std::strtoull(v.c_str(), &end, 10);
    } else if (key == "rate") {
      plan.rate = std::strtod(v.c_str(), &end);
      if (plan.rate < 0 || plan.rate > 1) end = nullptr;
    } else if (key == "report") {
      if (report != nullptr) *report = v != "0";
      end = const_cast<char*>(v.c_str() + v.size());
    } else if (key == "kinds") {
      std::string_view rest = value;
      while (!rest.empty()) {
        const std::size_t plus = rest.find('+');
        const std::string_view name = rest.substr(0, plus);
        plan.kinds |= name == "transparent" ? transparent : bit(kind_named(name));
        rest = plus == std::string_view::npos ? std::string_view() : rest.substr(plus + 1);
      }
      end = const_cast<char*>(v.c_str() + v.size());
    } else {
      throw std::invalid_argument("corio: CORIO_FAULTS: unknown key '" + key +
                                  "' (known: seed, rate, kinds, report)");
    }
    if (end == nullptr || end == v.c_str() || *end != '\0') {
      throw std::invalid_argument("corio: CORIO_FAULTS: bad value for " + key + ": '" + v + "'");
    }
  }
  return plan;
}

void load_env() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* spec = std::getenv("CORIO_FAULTS");
    if (spec == nullptr || *spec == '\0') return;
    bool report = false;
    enable(parse(spec, &report));
    if (report) std::atexit(report_at_exit);
  });
}

std::uint64_t injected(Kind k) noexcept {
  return g_injected[static_cast<std::size_t>(k)].load(std::memory_order_relaxed);
}

std::string summary() {
  std::string s;
  for (std::size_t i = 0; i < std::size(kind_names); ++i) {
    if (i > 0) s += ' ';
    s.append(kind_names[i]).append(1, '=').append(std::to_string(injected(static_cast<Kind>(i))));
  }
  return s;
}

}  // namespace corio::faults
