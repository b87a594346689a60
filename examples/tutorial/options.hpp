// The tutorial's command line: `tutorial [--scale X] [--backend NAME] [--help]`.
#pragma once

#include <optional>
#include <string>

namespace tutorial {

struct Options {
  /// Multiplies every delay: 1 runs the lesson at human speed, 0.05 in tests.
  double scale = 1.0;
  /// Empty means what corio::run() picks: $CORIO_BACKEND, else "auto".
  std::string backend;
};

/// What the program should do after reading its arguments.
struct ParseResult {
  std::optional<Options> options;  ///< set: run the tutorial with these
  int exit_code = 0;               ///< otherwise: exit with this (0 after --help, 2 on misuse)
};

/// Parses argv. Prints usage to stdout for --help, and an error plus usage to stderr
/// for anything it does not understand.
[[nodiscard]] ParseResult parse_options(int argc, char** argv);

}  // namespace tutorial
