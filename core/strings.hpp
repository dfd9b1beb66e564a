// Small string helpers shared by every part of the product.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rm {

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// Lower-case hex of raw bytes, and back (either case); from_hex gives nothing for an odd
// length or a character that is not a hex digit.
std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);
// True when every byte is printable ASCII or valid UTF-8 (no control characters but tab).
bool is_clean_utf8(std::string_view s);

}  // namespace rm
