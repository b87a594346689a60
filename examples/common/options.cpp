#include "options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

#include "decimal.hpp"

namespace examples {
namespace {

template <class T>
std::optional<T> parse_number(std::string_view text) {
  T x{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return x;
}

std::string quoted(std::string_view value) {
  // Appends only: g++ 12 at -O3 warns falsely (-Wrestrict) on "literal" + std::string.
  std::string q(1, '\'');
  q.append(value).append(1, '\'');
  return q;
}

}  // namespace

CommandLine& CommandLine::text(std::string name, std::string metavar, std::string help,
                               std::string& out) {
  flags_.push_back(
      Flag{std::move(name), std::move(metavar), std::move(help), [&out](std::string_view v) {
             out = v;
             return std::string();
           }});
  return *this;
}

CommandLine& CommandLine::integer(std::string name, std::string metavar, std::string help,
                                  std::int64_t& out, std::int64_t min, std::int64_t max) {
  std::string flag = name;
  flags_.push_back(Flag{std::move(name), std::move(metavar), std::move(help),
                        [&out, min, max, flag](std::string_view v) {
                          std::optional<std::int64_t> x = parse_number<std::int64_t>(v);
                          if (!x || *x < min || *x > max) {
                            return flag + " wants an integer from " + std::to_string(min) + " to " +
                                   std::to_string(max) + ", not " + quoted(v);
                          }
                          out = *x;
                          return std::string();
                        }});
  return *this;
}

CommandLine& CommandLine::port(std::string name, std::string help, std::uint16_t& out) {
  std::string flag = name;
  flags_.push_back(Flag{std::move(name), "N", std::move(help), [&out, flag](std::string_view v) {
                          std::optional<unsigned> x = parse_number<unsigned>(v);
                          if (!x || *x > 65535) {
                            return flag + " wants a port from 0 to 65535, not " + quoted(v);
                          }
                          out = static_cast<std::uint16_t>(*x);
                          return std::string();
                        }});
  return *this;
}

CommandLine& CommandLine::seconds(std::string name, std::string help, double& out) {
  std::string flag = name;
  flags_.push_back(Flag{std::move(name), "S", std::move(help), [&out, flag](std::string_view v) {
                          std::optional<double> x = parse_decimal(v);
                          if (!x || !std::isfinite(*x) || *x < 0) {
                            return flag + " wants a number of seconds >= 0, not " + quoted(v);
                          }
                          out = *x;
                          return std::string();
                        }});
  return *this;
}

CommandLine& CommandLine::toggle(std::string name, std::string help, bool& out) {
  flags_.push_back(Flag{std::move(name), "", std::move(help), [&out](std::string_view) {
                          out = true;
                          return std::string();
                        }});
  return *this;
}

CommandLine& CommandLine::backend(std::string& out) {
  return text("--backend", "NAME",
              "event loop backend: auto, epoll, poll, ... (default: $CORIO_BACKEND, else auto)",
              out);
}

std::string CommandLine::usage() const {
  std::string text = "usage: " + program_;
  for (const Flag& f : flags_)
    text += " [" + f.name + (f.metavar.empty() ? "" : " " + f.metavar) + "]";
  text += "\n\n" + summary_ + "\n\n";
  for (const Flag& f : flags_) {
    std::string left = "  " + f.name + (f.metavar.empty() ? "" : " " + f.metavar);
    left.resize(std::max<std::size_t>(left.size() + 2, 20), ' ');
    text += left + f.help + "\n";
  }
  text += "  -h, --help        show this help\n";
  return text;
}

std::optional<int> CommandLine::parse(int argc, char** argv) const {
  auto misuse = [this](const std::string& why) {
    std::fprintf(stderr, "%s: %s\n%s", program_.c_str(), why.c_str(), usage().c_str());
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
    // Both `--flag value` and `--flag=value`.
    std::string_view name = arg.substr(0, arg.find('='));
    const Flag* flag = nullptr;
    for (const Flag& f : flags_)
      if (f.name == name) flag = &f;
    if (flag == nullptr) return misuse("unknown option " + quoted(arg));
    std::string_view value;
    if (flag->metavar.empty()) {
      if (name.size() < arg.size()) return misuse(flag->name + " takes no value");
    } else if (name.size() < arg.size()) {
      value = arg.substr(name.size() + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    if (!flag->metavar.empty() && value.empty()) return misuse(flag->name + " needs a value");
    if (std::string error = flag->apply(value); !error.empty()) return misuse(error);
  }
  return std::nullopt;
}

}  // namespace examples
