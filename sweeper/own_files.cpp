#include "sweeper/own_files.hpp"

#include <nlohmann/json.hpp>

#include "core/maildir.hpp"
#include "core/strings.hpp"

namespace rm::sweep {

std::string marker_name(const std::string& name) {
    std::string m = std::string(kMarkerPrefix) + name;
    // NAME_MAX is 255 bytes; the marker only has to be ours and unique within the folder.
    if (m.size() > 255) m.resize(255);
    return m;
}

bool has_marker_prefix(std::string_view name) { return name.substr(0, kMarkerPrefix.size()) == kMarkerPrefix; }

std::string OwnFiles::tmp_key(const DigestKey& key, std::string_view name) {
    return to_hex(key.file_hash(name).substr(0, 8));
}

void OwnFiles::merge(const std::optional<std::string>& record) {
    if (!record || record->empty()) return;
    const auto j = nlohmann::json::parse(*record, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("own") || !j["own"].is_object()) return;
    const auto& own = j["own"];
    for (const auto& i : own.value("inodes", nlohmann::json::array())) {
        if (i.is_array() && i.size() == 2 && i[0].is_number_unsigned() && i[1].is_number_unsigned())
            inodes.insert({i[0].get<dev_t>(), i[1].get<ino_t>()});
    }
    for (const auto& t : own.value("tmp", nlohmann::json::array()))
        if (t.is_string()) tmp_names.insert(t.get<std::string>());
}

std::string OwnFiles::to_json() const {
    nlohmann::json j = {{"inodes", nlohmann::json::array()}, {"tmp", tmp_names}};
    for (const auto& [dev, ino] : inodes) j["inodes"].push_back({dev, ino});
    return j.dump();
}

bool OwnFiles::owns(const struct stat& st, const std::string& sub, std::string_view name, const DigestKey& key) const {
    return inodes.count({st.st_dev, st.st_ino}) > 0 || (sub == "tmp" && tmp_names.count(tmp_key(key, name)) > 0);
}

OwnFiles own_files_of(const Plan& plan, const DigestKey& key) {
    OwnFiles own;
    for (const auto& d : plan.destroys) own.inodes.insert({d.file.dev, d.file.ino});
    for (const auto& m : plan.moves) {
        own.inodes.insert({m.source.dev, m.source.ino});
        own.tmp_names.insert(move_tmp_key(m, key));
    }
    return own;
}

std::string move_tmp_key(const MoveItem& m, const DigestKey& key) {
    const auto name = parse_maildir_name(m.source.name);
    return OwnFiles::tmp_key(key, marker_name(name ? name->unique : m.source.name));
}

void Leftovers::left_behind_move(const MoveItem& m, const DigestKey& key) {
    left_.inodes.insert({m.source.dev, m.source.ino});
    left_.tmp_names.insert(move_tmp_key(m, key));
}

std::string Leftovers::record(bool skipped) const {
    OwnFiles left = left_;
    if (skipped) {
        left.inodes.insert(carried_.inodes.begin(), carried_.inodes.end());
        left.tmp_names.insert(carried_.tmp_names.begin(), carried_.tmp_names.end());
    }
    for (const auto& i : removed_) left.inodes.erase(i);
    return left.empty() ? std::string() : "{\"own\":" + left.to_json() + "}";
}

}  // namespace rm::sweep
