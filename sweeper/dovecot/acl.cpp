#include "sweeper/dovecot/acl.hpp"

#include <algorithm>

#include "core/strings.hpp"

namespace rm::sweep::dovecot {

namespace {

// The rights that let a login release: putting a message into the folder (by a client's
// MOVE or COPY, or by a Sieve fileinto), or rewriting the ACL to allow it.
constexpr std::string_view kReleasingRights[] = {"insert", "post", "admin"};

std::vector<std::string> releasing_rights(const std::vector<std::string>& rights) {
    std::vector<std::string> out;
    for (const auto r : kReleasingRights)
        if (std::find(rights.begin(), rights.end(), r) != rights.end()) out.emplace_back(r);
    return out;
}

// Exactly as Dovecot matches a user= line against a login: "user=Lead@x" is not lead@x's.
bool is_release_login(std::string_view id, const std::vector<std::string>& logins) {
    if (id.rfind("user=", 0) != 0) return false;
    const std::string_view login = id.substr(5);
    return std::any_of(logins.begin(), logins.end(), [&](const std::string& l) { return l == login; });
}

std::string who(const AclEntry& e, bool name_logins) {
    const std::string where = e.global ? " (in the global ACL file)" : "";
    if (e.id == "anyone") return "anyone, even without logging in" + where;
    if (e.id == "authenticated") return "every login (authenticated)" + where;
    if (e.id.rfind("group", 0) == 0) return e.id + where + ": a group's members cannot be checked, name each team leader";
    if (!name_logins && e.id.rfind("user=", 0) == 0) return "a login not in release_logins" + where;
    return e.id + where + ", which is not in release_logins";
}

}  // namespace

std::vector<std::string> acl_rights_of(std::string_view text) {
    std::vector<std::string> out;
    for (const auto& r : split(text, ' '))
        if (!r.empty()) out.push_back(r);
    return out;
}

AclEntry acl_entry_of(const std::map<std::string, std::string>& row) {
    const auto get = [&](const char* k) {
        const auto it = row.find(k);
        return it == row.end() ? std::string() : it->second;
    };
    return AclEntry{get("id"), !get("global").empty(), acl_rights_of(get("rights"))};
}

std::vector<std::string> release_folder_unguarded(const std::vector<AclEntry>& entries,
                                                  const std::vector<std::string>& owner_rights,
                                                  const std::vector<std::string>& release_logins, bool name_logins) {
    std::vector<std::string> why;
    if (auto r = releasing_rights(owner_rights); !r.empty())
        why.push_back("the shared login itself has " + join(r, ", ") +
                      " (Dovecot gives the owner every right unless the folder's ACL has an owner line: "
                      "doveadm acl set -u SHARED-LOGIN FOLDER owner lookup read write-seen)");
    // A login no line names gets Dovecot's default rights instead (the INBOX's ACL with
    // acl_defaults_from_inbox, or the mail root's dovecot-acl), which acl get does not
    // show: an anyone line names every login.
    if (std::none_of(entries.begin(), entries.end(), [](const AclEntry& e) { return e.id == "anyone"; }))
        why.push_back("its ACL has no anyone line, so a login it does not name gets Dovecot's default rights there "
                      "(the INBOX's ACL or the mail root's dovecot-acl), which may let it put mail in: add one "
                      "without insert, post and admin (doveadm acl set -u SHARED-LOGIN FOLDER anyone lookup)");
    for (const AclEntry& e : entries) {
        // The owner's rights are the shared login's, judged above as Dovecot resolves them.
        if (e.id == "owner" || is_release_login(e.id, release_logins)) continue;
        if (auto r = releasing_rights(e.rights); !r.empty()) why.push_back(who(e, name_logins) + " has " + join(r, ", "));
    }
    return why;
}

std::vector<std::string> release_logins_without_insert(const std::vector<AclEntry>& entries,
                                                       const std::vector<std::string>& release_logins) {
    std::vector<std::string> out;
    for (const auto& login : release_logins) {
        const bool can = std::any_of(entries.begin(), entries.end(), [&](const AclEntry& e) {
            return is_release_login(e.id, {login}) &&
                   std::find(e.rights.begin(), e.rights.end(), "insert") != e.rights.end();
        });
        if (!can) out.push_back(login);
    }
    return out;
}

std::vector<std::string> sweeper_rights_lacking(const std::vector<std::string>& owner_rights) {
    std::vector<std::string> out;
    for (const char* r : {"lookup", "read", "write-deleted", "expunge"})
        if (std::find(owner_rights.begin(), owner_rights.end(), r) == owner_rights.end()) out.emplace_back(r);
    return out;
}

bool shared_login_can_insert(const std::vector<std::string>& owner_rights) {
    return std::find(owner_rights.begin(), owner_rights.end(), "insert") != owner_rights.end();
}

}  // namespace rm::sweep::dovecot
