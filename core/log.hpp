// Logging for the three programs: syslog (mail facility) by default, or stderr or a file.
// Log lines name queue ids, lines, directions and dates, never a person: no address,
// subject, client IP or clear Message-ID is ever passed to these loggers.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "core/config.hpp"

namespace rm {

// Makes the logger described by `log` the default one. Throws ConfigError when a file
// sink cannot be opened.
void setup_logging(const LogSection& log, const std::string& program, const std::string& config_file);

// Before the config is read: stderr only.
void setup_bootstrap_logging(const std::string& program);

}  // namespace rm
