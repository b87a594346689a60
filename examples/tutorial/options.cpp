#include "options.hpp"

#include <cmath>
#include <cstdio>
#include <string_view>

#include "decimal.hpp"

namespace tutorial {
namespace {

constexpr const char* kUsage =
    "usage: tutorial [--scale X] [--backend NAME]\n"
    "\n"
    "Walks through corio's asyncio-style primitives, timing each step.\n"
    "\n"
    "  --scale X       multiply every delay by X > 0 (default 1; 0.05 runs in ~2 s)\n"
    "  --backend NAME  event loop backend: auto, epoll, poll, ...\n"
    "                  (default: $CORIO_BACKEND, else auto)\n"
    "  -h, --help      show this help\n";

ParseResult misuse(std::string_view why) {
  std::fprintf(stderr, "tutorial: %.*s\n%s", static_cast<int>(why.size()), why.data(), kUsage);
  return ParseResult{std::nullopt, 2};
}

std::optional<double> parse_scale(std::string_view text) {
  const std::optional<double> x = examples::parse_decimal(text);
  if (!x || !std::isfinite(*x) || *x <= 0) return std::nullopt;
  return x;
}

}  // namespace

ParseResult parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return ParseResult{std::nullopt, 0};
    }
    // Both `--flag value` and `--flag=value`.
    std::string_view flag = arg.substr(0, arg.find('='));
    if (flag != "--scale" && flag != "--backend") {
      return misuse("unknown option '" + std::string(arg) + "'");
    }
    std::string_view value;
    if (flag.size() < arg.size()) {
      value = arg.substr(flag.size() + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    if (value.empty()) return misuse(std::string(flag) + " needs a value");
    if (flag == "--backend") {
      options.backend = value;
    } else if (auto scale = parse_scale(value)) {
      options.scale = *scale;
    } else {
      return misuse("--scale wants a positive number, not '" + std::string(value) + "'");
    }
  }
  return ParseResult{options, 0};
}

}  // namespace tutorial
