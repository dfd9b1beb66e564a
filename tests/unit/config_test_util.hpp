// The smallest config the tests build on: one line (the Men's Advice Line, by address and
// domain) and one six-month policy. It ends inside the [[line]] table, so a key appended
// to it belongs to the line.
#pragma once

#include <string>

#include "core/config.hpp"

namespace rm::test {

inline constexpr const char* kOneLineConfig = R"(
[policy.email]
retain = "6 months"

[[line]]
tag = "mens-advice-line"
name = "Men's Advice Line"
addresses = ["info@mensadviceline.org.uk"]
domains = ["mensadviceline.org.uk"]
policy = "email"
)";

// kOneLineConfig with `extra` TOML appended, parsed.
inline Config one_line_config(const std::string& extra = "") {
    return parse_config(std::string(kOneLineConfig) + extra, "/etc/retention-milter/retention.toml");
}

}  // namespace rm::test
