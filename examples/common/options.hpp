// The network examples' command line: `--flag value` or `--flag=value`, usage built from
// the flag table, the same exit codes everywhere (usage on stderr and 2 for a mistake,
// usage on stdout and 0 for --help).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace examples {

/// One flag: how it is spelled, how usage shows it, and what it sets.
struct Flag {
  std::string name;     ///< "--port"
  std::string metavar;  ///< "N" (shown in usage); empty for a switch that takes no value
  std::string help;     ///< one line
  /// Stores the value (empty for a switch); returns an error message, or "" if it took it.
  std::function<std::string(std::string_view)> apply;
};

/// A program's flags and the text around them.
class CommandLine {
 public:
  CommandLine(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  /// A free-form string value.
  CommandLine& text(std::string name, std::string metavar, std::string help, std::string& out);
  /// An integer in [min, max].
  CommandLine& integer(std::string name, std::string metavar, std::string help, std::int64_t& out,
                       std::int64_t min, std::int64_t max);
  /// A port number, 0..65535 (0 asks the OS for a free one).
  CommandLine& port(std::string name, std::string help, std::uint16_t& out);
  /// A number of seconds >= 0 (fractions allowed).
  CommandLine& seconds(std::string name, std::string help, double& out);
  /// A switch: present means true.
  CommandLine& toggle(std::string name, std::string help, bool& out);
  /// `--backend NAME`, documented the same way in every example.
  CommandLine& backend(std::string& out);

  /// Parses argv. nullopt: go on and run. Otherwise the program should exit with the
  /// returned code (0 after --help; 2 after a mistake, with the usage on stderr).
  [[nodiscard]] std::optional<int> parse(int argc, char** argv) const;

  [[nodiscard]] std::string usage() const;

 private:
  std::string program_;
  std::string summary_;
  std::vector<Flag> flags_;
};

}  // namespace examples
