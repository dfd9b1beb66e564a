#include "core/message_id_key.hpp"

#include "core/headers.hpp"

namespace rm {

namespace {

// The length of the well-formed UTF-8 sequence at the start of `s`, or 0 when there is
// none (RFC 3629, table 3-7 of the Unicode standard): the same judgement as Dovecot's
// uni_utf8_get_char_n() with uni_is_valid_ucs4().
size_t utf8_sequence(std::string_view s) {
    auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    if (c < 0x80) return 1;
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;  // overlong
        if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;  // overlong
        if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
        return 0;
    }
    if (s.size() < len || b(1) < lo || b(1) > hi) return 0;
    for (size_t i = 2; i < len; ++i) {
        if ((b(i) & 0xC0) != 0x80) return 0;
    }
    return len;
}

std::string raw_key(std::string_view value) {
    if (auto id = normalise_message_id(value)) return *id;
    std::string out;
    for (char c : value) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
    }
    return out;
}

}  // namespace

std::string dovecot_json_utf8(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    while (!bytes.empty()) {
        if (size_t n = utf8_sequence(bytes); n > 0) {
            out.append(bytes.substr(0, n));
            bytes.remove_prefix(n);
        } else {
            out += "\xEF\xBF\xBD";
            bytes.remove_prefix(1);
        }
    }
    return out;
}

std::string_view up_to_nul(std::string_view value) { return value.substr(0, value.find('\0')); }

std::optional<std::string> usable_message_id(std::string_view value) {
    return normalise_message_id(dovecot_json_utf8(up_to_nul(value)));
}

std::string message_id_key(std::string_view value) { return raw_key(dovecot_json_utf8(up_to_nul(value))); }

std::string raw_message_id_key(std::string_view value) { return raw_key(up_to_nul(value)); }

size_t unusable_message_ids_first(const std::vector<std::string_view>& values) {
    size_t n = 0;
    while (n < values.size() && !usable_message_id(values[n])) ++n;
    return n;
}

std::string legacy_indexed_message_id(const std::vector<std::string_view>& values) {
    if (values.empty()) return {};
    const size_t first = unusable_message_ids_first(values);
    return raw_message_id_key(values[first < values.size() ? first : 0]);
}

std::string indexed_message_id(const std::vector<std::string_view>& values) {
    const size_t first = unusable_message_ids_first(values);
    if (first < values.size()) return *usable_message_id(values[first]);
    return values.empty() ? std::string() : message_id_key(values.front());
}

}  // namespace rm
