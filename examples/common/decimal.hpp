// Reading a decimal number from the command line, the same on every standard library.
#pragma once

#include <cctype>
#include <locale>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace examples {

/// `text` as a double if it is exactly a decimal number ("0.5", "2", "1e-3"), else
/// nullopt. Not std::from_chars: libc++ (macOS) has no floating-point overload. The
/// classic locale keeps '.' the decimal point whatever the user's locale says.
inline std::optional<double> parse_decimal(std::string_view text) {
  if (text.empty() || text.front() == '+' ||
      std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    return std::nullopt;  // from_chars accepted neither; keep the same rules
  }
  std::istringstream in{std::string(text)};
  in.imbue(std::locale::classic());
  double x = 0;
  in >> x;
  if (in.fail() || !in.eof()) return std::nullopt;
  return x;
}

}  // namespace examples
