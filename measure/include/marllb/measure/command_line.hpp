// The testbed binaries' one way to fail and one way to ask: a user error of the command line
// (a value out of range or of the wrong type, an unknown or repeated option) exits 2 with one
// line, "<program>: <what was wrong> (run <program> --help for the options)"; --help and
// --version print and exit 0.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace marllb::measure {

// "<program> <project version> (git <build_git_commit()>)", e.g. "marllb-sim 0.1.0 (git 0123456789ab)".
[[nodiscard]] std::string version_line(std::string_view program);

// Names the app (its messages and --version use the name) and adds --version.
void add_version_flag(CLI::App &app, std::string program);

// The exit code of a parse error: 0 for --help and --version (printed to stdout), else 2 after
// one line on stderr; `prefix` (e.g. "cadence.toml:4: ") goes before the option's message.
[[nodiscard]] int exit_code(const CLI::App &app, const CLI::ParseError &e, std::string_view prefix = {});

// Parses argv (or args, in CLI11's order: last argument first). Returns -1 to go on, else
// the exit code of exit_code().
[[nodiscard]] int parse_command_line(CLI::App &app, int argc, char **argv);
[[nodiscard]] int parse_command_line(CLI::App &app, std::vector<std::string> &args_reversed);

} // namespace marllb::measure
