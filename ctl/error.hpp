// The one way retentionctl's logic reports a failure to main(): a message written for
// an admin, and the exit code that goes with it (see core/config.hpp's ExitCode).
#pragma once

#include <stdexcept>
#include <string>

namespace rm::ctl {

class CtlError : public std::runtime_error {
public:
    CtlError(int exit_code, const std::string& message) : std::runtime_error(message), code_(exit_code) {}
    int code() const { return code_; }

private:
    int code_;
};

}  // namespace rm::ctl
