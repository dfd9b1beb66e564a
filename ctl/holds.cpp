#include "ctl/holds.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "core/strings.hpp"
#include "ctl/error.hpp"
#include "ctl/words.hpp"

namespace rm::ctl {

void validate_reason(const Config& config, std::string_view reason) {
    const auto& allowed = config.holds.reasons;
    if (std::find(allowed.begin(), allowed.end(), reason) != allowed.end()) return;
    throw CtlError(kExitConfig, "--reason must be one of: " + join(allowed, ", ") +
                                    " (the [holds] reasons in " + config.source + ")");
}

void validate_ref(std::string_view ref) {
    if (ref.empty()) return;
    const bool ok = ref.size() <= 32 && std::all_of(ref.begin(), ref.end(), [](char c) {
                        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                    });
    if (ok) return;
    throw CtlError(kExitConfig,
                   "--ref must be a case reference of 1 to 32 letters, digits and hyphens (for example "
                   "SG-2026-0142): it is stored in the index, so it must never be a name or free text");
}

namespace {

// An account name as sudo sets it; anything else in the variable is ignored.
bool is_account(const char* name) {
    if (name == nullptr || *name == '\0') return false;
    return ::getpwnam(name) != nullptr;
}

}  // namespace

std::string invoking_user(uid_t uid, const char* sudo_user) {
    // Behind "sudo retentionctl hold", getuid() is root; the record should name the
    // admin who asked, which sudo passes on in SUDO_USER.
    if (uid == 0 && is_account(sudo_user)) return sudo_user;
    if (const passwd* pw = ::getpwuid(uid)) return pw->pw_name;
    return "uid " + std::to_string(uid);
}

std::string invoking_user() { return invoking_user(::getuid(), std::getenv("SUDO_USER")); }

std::string not_found_message(bool well_formed) {
    std::string m =
        "no message with that Message-ID is in the index. Either it never passed the milter (mail from "
        "before installation, or not helpline mail), or it was destroyed more than [index] digest_grace "
        "ago and can no longer be found";
    if (!well_formed)
        m += ". Also, what was given does not look like a Message-ID (<something@host>): copy the whole "
             "value of the Message-ID header";
    return m;
}

namespace {

// Every row of the message, or a clear refusal when there are none.
std::vector<MessageRow> rows_or_throw(const Index& index, const Digest& digest, bool well_formed) {
    auto rows = index.rows_for(digest);
    if (rows.empty()) throw CtlError(kExitRuntime, not_found_message(well_formed));
    return rows;
}

std::string describe_hold(const Hold& h) {
    return "reason " + h.reason + (h.ref.empty() ? "" : ", reference " + h.ref) + ", placed by " + h.placed_by +
           " on " + format_utc(h.placed_at);
}

}  // namespace

std::int64_t place_hold(Index& index, const Digest& digest, const HoldRequest& request, bool well_formed) {
    const auto rows = rows_or_throw(index, digest, well_formed);
    for (const Hold& active : index.active_holds(digest)) {
        if (active.kind == HoldKind::Admin)
            throw CtlError(kExitRuntime, "this message is already held (" + describe_hold(active) +
                                             "); release it first to change the reason or reference");
    }
    const bool any_present = std::any_of(rows.begin(), rows.end(),
                                         [](const MessageRow& r) { return r.state == RowState::Present; });
    if (!any_present)
        throw CtlError(kExitRuntime,
                       "every copy of this message has already been destroyed: a hold can no longer keep it");
    try {
        return index.hold(digest, request.reason, request.ref, request.user, request.now);
    } catch (const IndexError& e) {
        // Another admin may have placed a hold between the check and now.
        throw CtlError(kExitRuntime, std::string("could not place the hold: ") + e.what());
    }
}

std::vector<Hold> release_hold(Index& index, const Digest& digest, const std::string& user,
                               std::chrono::system_clock::time_point now, bool well_formed,
                               std::optional<HoldKind> kind) {
    rows_or_throw(index, digest, well_formed);
    std::vector<Hold> lifted;
    for (Hold& h : index.active_holds(digest)) {
        if (!kind || h.kind == *kind) lifted.push_back(std::move(h));
    }
    if (lifted.empty()) {
        throw CtlError(kExitRuntime, kind ? "this message has no " + std::string(hold_kind_name(*kind)) +
                                                " hold: there is nothing to release"
                                          : std::string("this message is not held: there is nothing to release"));
    }
    // An admin's hold and a folder's may have been placed for different reasons: lifting
    // both at once must be asked for by name, never happen by accident.
    if (lifted.size() > 1) {
        std::string both;
        for (const Hold& h : lifted) both += "\n  " + std::string(hold_kind_name(h.kind)) + " hold: " + describe_hold(h);
        throw CtlError(kExitConfig, "this message has two holds in force; say which to lift with --kind admin or "
                                   "--kind folder:" + both);
    }
    try {
        index.release(digest, user, now, lifted.front().kind);
    } catch (const IndexError& e) {
        throw CtlError(kExitRuntime, std::string("could not release the hold: ") + e.what());
    }
    return lifted;
}

std::optional<HoldKind> parse_hold_kind(std::string_view text) {
    if (text.empty()) return std::nullopt;
    if (text == "admin") return HoldKind::Admin;
    if (text == "folder") return HoldKind::Folder;
    throw CtlError(kExitConfig, "--kind must be admin or folder");
}

}  // namespace rm::ctl
