#include "db/row_check.hpp"

#include <algorithm>

namespace rm::dbdetail {

namespace {
bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}
}  // namespace

std::optional<std::string> row_problem(const MessageRow& row) {
    if (row.digest.size() != 32) return "its digest is not 32 bytes";
    if (!row.record.empty() && row.record.size() != 32) return "its record digest is not 32 bytes";
    if (row.direction != "inbound" && row.direction != "outbound" && row.direction != "internal") {
        return "direction must be inbound, outbound or internal";
    }
    if (!row.passed_on.ok() || !row.retain_until.ok()) return "it has an invalid date";
    if (row.lines.empty() || row.policy.empty()) return "it has no line or no policy";
    if (has_control(row.lines) || has_control(row.policy) || has_control(row.queue_id)) {
        return "a field holds control characters";
    }
    return std::nullopt;
}

}  // namespace rm::dbdetail
