#include "sweeper/matching.hpp"

#include <algorithm>
#include <system_error>

#include "core/headers.hpp"
#include "core/message_id_key.hpp"
#include "core/strings.hpp"

namespace rm::sweep {

HeaderFacts header_facts(const std::vector<HeaderField>& fields) {
    HeaderFacts facts;
    for (const std::string_view v : field_values(fields, "Message-ID")) facts.message_ids.emplace_back(v);
    for (const std::string_view v : field_values(fields, kHdrRecord)) facts.records.emplace_back(v);
    return facts;
}

Index::FileKeys match_keys(const HeaderFacts& facts, const DigestKey& key) {
    Index::FileKeys keys;
    for (const std::string& value : facts.records) {
        if (auto token = record_token_of(up_to_nul(value))) {
            keys.record = key.record_digest(*token);
            break;
        }
    }
    const std::vector<std::string_view> ids(facts.message_ids.begin(), facts.message_ids.end());
    const std::string id = indexed_message_id(ids);
    if (!id.empty()) keys.digest = key.digest(id);
    // Only an id that had bytes replaced (U+FFFD) can have keyed otherwise before: the
    // second key is not worked out for every other copy.
    if (id.find("\xEF\xBF\xBD") != std::string::npos) {
        const std::string legacy = legacy_indexed_message_id(ids);
        if (legacy != id && !legacy.empty()) keys.legacy = key.digest(legacy);
    }
    return keys;
}

CopyHeader read_copy_header(int fd, const DigestKey& key) {
    HeaderFields h = read_header_fields(fd, kMatchFields);
    CopyHeader out;
    out.status = h.status;
    out.foreign = std::move(h.foreign);
    out.keys = match_keys(header_facts(h.fields), key);
    return out;
}

Digest message_id_digest_at(int dirfd, const std::string& name, const DigestKey& key) {
    const UniqueFd fd = open_file_at(dirfd, name, nullptr);
    if (!fd) return {};
    try {
        return read_copy_header(fd.get(), key).keys.digest;
    } catch (const std::system_error&) {
        return {};
    }
}

std::vector<MessageRow> rows_of_unstamped_copy(std::vector<MessageRow> rows, FolderRole role) {
    const auto drop = [&](auto pred) {
        std::vector<MessageRow> kept;
        for (auto& r : rows)
            if (!pred(r)) kept.push_back(std::move(r));
        return kept;
    };
    if (role != FolderRole::Shared)
        return drop([](const MessageRow& r) { return r.direction != "outbound" && r.direction != "internal"; });
    auto unstamped = drop([](const MessageRow& r) { return r.direction == "inbound" && !r.record.empty(); });
    return unstamped.empty() ? rows : unstamped;
}

RowFacts facts_of(const std::vector<MessageRow>& rows, const Config& config, Date today) {
    RowFacts facts;
    std::vector<std::string> seen;
    for (const auto& row : rows) {
        if (row.retain_until > today) facts.due = false;
        if (!facts.latest || row.retain_until > facts.latest->retain_until) facts.latest = &row;
        for (const auto& t : split(row.lines, ',')) {
            const std::string tag(trim(t));
            if (!tag.empty() && std::find(seen.begin(), seen.end(), tag) == seen.end()) seen.push_back(tag);
        }
    }
    for (const auto& line : config.lines) {
        if (std::find(seen.begin(), seen.end(), line.tag) != seen.end()) facts.tags.push_back(line.tag);
    }
    // Tags of lines since removed from the config still name the message's lines.
    for (const auto& tag : seen) {
        if (std::find(facts.tags.begin(), facts.tags.end(), tag) == facts.tags.end()) facts.tags.push_back(tag);
    }
    return facts;
}

}  // namespace rm::sweep
