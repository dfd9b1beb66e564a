#include "core/log.hpp"

#include <syslog.h>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>

namespace rm {

namespace {

spdlog::level::level_enum level_of(const std::string& name) {
    if (name == "warning") return spdlog::level::warn;
    return spdlog::level::from_str(name);
}

}  // namespace

void setup_logging(const LogSection& log, const std::string& program, const std::string& config_file) {
    spdlog::sink_ptr sink;
    if (log.sink == "syslog") {
        sink = std::make_shared<spdlog::sinks::syslog_sink_mt>(program, LOG_PID, LOG_MAIL, false);
    } else if (log.sink == "stderr") {
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else {
        const std::string path = log.sink.substr(5);
        try {
            sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
        } catch (const spdlog::spdlog_ex& e) {
            throw ConfigError(config_file, 0, "log.sink", "cannot open the log file: " + std::string(e.what()));
        }
    }
    auto logger = std::make_shared<spdlog::logger>(program, sink);
    // syslog adds its own time stamp and program name.
    logger->set_pattern(log.sink == "syslog" ? "%v" : "%Y-%m-%dT%H:%M:%S.%e %n[%P] %l: %v");
    logger->set_level(level_of(log.level));
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
}

void setup_bootstrap_logging(const std::string& program) {
    auto logger = std::make_shared<spdlog::logger>(program, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_pattern("%n: %l: %v");
    spdlog::set_default_logger(logger);
}

}  // namespace rm
