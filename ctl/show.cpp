#include "ctl/show.hpp"

#include <algorithm>
#include <sstream>

#include "core/strings.hpp"
#include "ctl/words.hpp"

namespace rm::ctl {

MessageView lookup_message(const Index& index, const Digest& digest) {
    return MessageView{index.rows_for(digest), index.holds_for(digest)};
}

namespace {

// The first hold in force (an admin's before a folder's), or null.
const Hold* active_hold(const MessageView& v) {
    const Hold* first = nullptr;
    for (const auto& h : v.holds) {
        if (h.released_at) continue;
        if (!first || (first->kind == HoldKind::Folder && h.kind == HoldKind::Admin)) first = &h;
    }
    return first;
}

const char* state_word(const MessageRow& row, bool held) {
    if (row.state == RowState::Destroyed) return "destroyed";
    if (row.claimed) return "being-destroyed";
    return held ? "held" : "present";
}

nlohmann::json hold_json(const Hold& h) {
    nlohmann::json j{{"kind", hold_kind_name(h.kind)},
                     {"reason", h.reason},
                     {"ref", h.ref},
                     {"placed_by", h.placed_by},
                     {"placed_at", format_utc_iso(h.placed_at)},
                     {"released_by", nullptr},
                     {"released_at", nullptr}};
    if (h.released_at) {
        j["released_by"] = h.released_by;
        j["released_at"] = format_utc_iso(*h.released_at);
    }
    return j;
}

std::string hold_line(const Hold& h) {
    std::string s = h.reason + (h.ref.empty() ? "" : " (reference " + h.ref + ")") + ", placed by " +
                    h.placed_by + " on " + format_utc(h.placed_at);
    if (h.released_at) s += ", released by " + h.released_by + " on " + format_utc(*h.released_at);
    return s;
}

void field(std::ostream& out, std::string_view label, const std::string& value) {
    out << "  " << label << ":" << std::string(14 - label.size(), ' ') << value << "\n";
}

void write_row(std::ostream& out, const Config& config, const MessageRow& row, Date today, bool held) {
    field(out, "line", describe_lines(config, row.lines));
    field(out, "direction", row.direction);
    field(out, "policy", row.policy);
    field(out, "passed on", format_date(row.passed_on));
    field(out, "retain until", format_date(row.retain_until));
    field(out, "state", describe_state(row, today, held));
}

}  // namespace

std::string describe_lines(const Config& config, const std::string& tags) {
    std::vector<std::string> parts;
    for (const auto& tag : split(tags, ',')) {
        const Line* l = config.find_line(tag);
        // A row may name a line since removed from the config; the tag is still true.
        parts.push_back(l && l->name != l->tag ? tag + " (" + l->name + ")" : tag);
    }
    return join(parts, ", ");
}

std::string describe_state(const MessageRow& row, Date today, bool held) {
    if (row.state == RowState::Destroyed) {
        std::string s = "destroyed";
        if (row.destroyed_at) s += " " + format_utc(*row.destroyed_at);
        return s + " (" + std::to_string(row.copies) + (row.copies == 1 ? " copy)" : " copies)");
    }
    if (row.claimed) return "being destroyed: a sweep claimed it past its date (a hold can no longer stop it)";
    if (held) return "held: kept past its date until the hold is released";
    if (row.retain_until <= today)
        return "due: may be destroyed since " + format_date(row.retain_until) + " (at the next sweep)";
    return "kept until " + format_date(row.retain_until) + " (destroyed on or after that day)";
}

std::string render_show_text(const Config& config, const MessageView& view, Date today) {
    std::ostringstream out;
    const Hold* active = active_hold(view);
    out << (view.rows.size() == 1 ? "1 record" : std::to_string(view.rows.size()) + " records")
        << " of this message in the index:\n";
    if (view.rows.size() > 1)
        out << "(one Message-ID, several messages: each copy the milter stamped goes on its own record's date, "
               "an unstamped copy on the latest of them; a hold keeps them all)\n";
    for (size_t i = 0; i < view.rows.size(); ++i) {
        out << "record " << (i + 1) << ":\n";
        write_row(out, config, view.rows[i], today, active != nullptr);
    }
    if (!active) out << "hold: none\n";
    // A message may have an admin's hold and a folder's at once: each is released apart.
    for (const auto& h : view.holds) {
        if (!h.released_at) out << "hold: " << hold_line(h) << "\n";
    }
    for (const auto& h : view.holds) {
        if (h.released_at) out << "earlier hold: " << hold_line(h) << "\n";
    }
    return out.str();
}

nlohmann::json show_json(const Config& config, const MessageView& view, Date today) {
    const Hold* active = active_hold(view);
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : view.rows) {
        nlohmann::json lines = nlohmann::json::array();
        for (const auto& tag : split(r.lines, ',')) {
            const Line* l = config.find_line(tag);
            lines.push_back({{"tag", tag}, {"name", l ? nlohmann::json(l->name) : nlohmann::json(nullptr)}});
        }
        rows.push_back({{"lines", lines},
                        {"direction", r.direction},
                        {"policy", r.policy},
                        {"passed_on", format_date(r.passed_on)},
                        {"retain_until", format_date(r.retain_until)},
                        {"state", state_word(r, active != nullptr)},
                        {"due", r.state == RowState::Present && r.retain_until <= today},
                        {"destroyed_at", r.destroyed_at ? nlohmann::json(format_utc_iso(*r.destroyed_at))
                                                        : nlohmann::json(nullptr)},
                        {"copies_destroyed", r.copies}});
    }
    nlohmann::json holds = nlohmann::json::array();
    for (const auto& h : view.holds) holds.push_back(hold_json(h));
    return {{"found", true},
            {"records", rows},
            {"hold", active ? hold_json(*active) : nlohmann::json(nullptr)},
            {"holds", holds}};
}

}  // namespace rm::ctl
