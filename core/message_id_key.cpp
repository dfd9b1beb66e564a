#include "core/message_id_key.hpp"

#include "core/headers.hpp"

namespace rm {

std::string_view up_to_nul(std::string_view value) { return value.substr(0, value.find('\0')); }

std::optional<std::string> usable_message_id(std::string_view value) {
    return normalise_message_id(up_to_nul(value));
}

std::string message_id_key(std::string_view value) {
    value = up_to_nul(value);
    if (auto id = normalise_message_id(value)) return *id;
    std::string out;
    for (char c : value) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
    }
    return out;
}

size_t unusable_message_ids_first(const std::vector<std::string_view>& values) {
    size_t n = 0;
    while (n < values.size() && !usable_message_id(values[n])) ++n;
    return n;
}

std::string indexed_message_id(const std::vector<std::string_view>& values) {
    const size_t first = unusable_message_ids_first(values);
    if (first < values.size()) return *usable_message_id(values[first]);
    return values.empty() ? std::string() : message_id_key(values.front());
}

}  // namespace rm
