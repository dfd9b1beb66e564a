// The checks every row passes before the index or the pending journal stores it.
#pragma once

#include <optional>
#include <string>

#include "db/index.hpp"

namespace rm::dbdetail {

// What is wrong with a row that must not be written (digest size, direction, dates,
// empty or control characters), or nothing. Never mentions the row's values.
std::optional<std::string> row_problem(const MessageRow& row);

}  // namespace rm::dbdetail
