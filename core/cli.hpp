// The three programs' command lines: one answer to a bad one. Header-only, so that
// rm_core itself does not need CLI11; only the programs' main() include it.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

#include "core/config.hpp"

namespace rm {

// Parses the command line. Returns nothing when the program should go on; otherwise the
// exit code, after CLI11 has printed what it has to say: 0 for --help and --version,
// kExitConfig for a usage error.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? kExitOk : kExitConfig;
    }
    return std::nullopt;
}

}  // namespace rm
