#include "core/headers.hpp"


#include <chrono>
#include <stdexcept>

#include "core/random.hpp"
#include "core/strings.hpp"

namespace rm {

std::optional<size_t> our_header_slot(std::string_view name) {
    name = trim(name);
    for (size_t i = 0; i < kOurHeaders.size(); ++i) {
        if (iequals(name, kOurHeaders[i])) return i;
    }
    return std::nullopt;
}

bool is_record_header(std::string_view name) { return iequals(trim(name), kHdrRecord); }

std::string make_record_token() {
    return to_hex(random_bytes(16, "a record token"));
}

std::optional<std::string> record_token_of(std::string_view value) {
    const std::string_view v = trim(value);
    if (v.size() != 32) return std::nullopt;
    for (char c : v) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    }
    return std::string(v);
}

namespace {

std::string without_space(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
    }
    return out;
}

bool plausible_id(std::string_view id) {
    if (id.empty()) return false;
    for (char c : id) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u == 0x7f || c == '<' || c == '>') return false;
    }
    return true;
}

}  // namespace

std::optional<std::string> normalise_message_id(std::string_view value) {
    const std::string_view v = trim(value);
    const auto lt = v.find('<');
    if (lt != std::string_view::npos) {
        const auto gt = v.find('>', lt + 1);
        if (gt == std::string_view::npos) return std::nullopt;
        std::string id = without_space(v.substr(lt + 1, gt - lt - 1));
        if (!plausible_id(id)) return std::nullopt;
        return id;
    }
    // No brackets: a bare id as staff paste it. One token only; anything with inner
    // space is not an id we could have recorded.
    if (v.find_first_of(" \t\r\n") != std::string_view::npos) return std::nullopt;
    std::string id(v);
    if (!plausible_id(id)) return std::nullopt;
    return id;
}

std::string make_message_id(std::string_view domain) {
    const std::string rnd = random_bytes(16, "a Message-ID");
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    std::string d(trim(domain));
    if (d.empty() || !is_clean_utf8(d) || d.find_first_of(" <>@\"") != std::string::npos) d = "localhost";
    return "<" + std::to_string(secs) + "." +
           to_hex(rnd) + "@" + d + ">";
}

void HeaderTracker::add(std::string_view name, std::string_view value) {
    ++total_;
    if (auto slot = our_header_slot(name)) {
        ++ours_[*slot];
        return;
    }
    if (is_record_header(name)) {
        ++records_;
        return;
    }
    const std::string_view n = trim(name);
    if (!from_ && iequals(n, "From")) from_ = std::string(value);
    if (iequals(n, "Message-ID")) {
        ++message_id_count_;
        if (message_ids_.size() < kMaxMessageIds) message_ids_.emplace_back(value);
    }
}

int HeaderTracker::ours_total() const {
    int n = records_;
    for (const int c : ours_) n += c;
    return n;
}

std::array<std::string, 4> our_header_values(const Decision& d) {
    return {d.line_tags(), to_string(d.direction), format_date(d.retain_until), d.policy};
}

std::vector<HeaderEdit> plan_header_edits(const HeaderTracker& seen, const Decision& decision,
                                          const IdentityEdits& identity) {
    std::vector<HeaderEdit> edits;
    const auto delete_all = [&](std::string_view name, int count) {
        for (int i = count; i >= 1; --i) edits.push_back({HeaderEdit::Kind::Delete, std::string(name), i, {}});
    };
    for (size_t slot = 0; slot < kOurHeaders.size(); ++slot) delete_all(kOurHeaders[slot], seen.count(slot));
    delete_all(kHdrRecord, seen.record_count());
    for (int i = identity.message_ids; i >= 1; --i)
        if (i != identity.keep_message_id) edits.push_back({HeaderEdit::Kind::Delete, "Message-ID", i, {}});
    if (decision.helpline() && decision.stamp) {
        const auto values = our_header_values(decision);
        for (size_t slot = 0; slot < kOurHeaders.size(); ++slot) {
            edits.push_back({HeaderEdit::Kind::Add, std::string(kOurHeaders[slot]), 0, values[slot]});
        }
        if (identity.record_token) edits.push_back({HeaderEdit::Kind::Add, std::string(kHdrRecord), 0, *identity.record_token});
    }
    if (identity.new_message_id) edits.push_back({HeaderEdit::Kind::Add, "Message-ID", 0, *identity.new_message_id});
    return edits;
}

}  // namespace rm
