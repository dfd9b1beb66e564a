// Whether Dovecot's ACLs guard a shared mailbox's release folder: the folder whose messages
// have their folder holds lifted. A hold must never end by a stray move, so the sweeper
// releases from the folder only while no login but the named team leaders' can put mail
// into it, and `retentionctl check` says the same before the first run.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rm::sweep::dovecot {

// One line of a mailbox's ACL as "doveadm acl get" gives it: the identifier ("owner",
// "user=lead@respect.example", "group=leads", "authenticated", "anyone"), whether it comes
// from the global ACL file, and its rights ("insert", "-insert" for a negative right).
struct AclEntry {
    std::string id;
    bool global = false;
    std::vector<std::string> rights;
};

// Splits doveadm's "lookup read -insert" into rights.
std::vector<std::string> acl_rights_of(std::string_view text);
// One row of "acl get" (fields id, global, rights), from the program or the HTTP API.
AclEntry acl_entry_of(const std::map<std::string, std::string>& row);

// Why the release folder is not guarded, one reason each, or nothing when it is.
// `entries` is the folder's ACL (acl get); `owner_rights` what the shared login itself may
// do there (acl rights: Dovecot gives the owner every right unless the ACL has an "owner"
// line); `release_logins` the team leaders' logins. A right that puts mail into the folder
// (insert, post) or changes its ACL (admin) must belong to no one else: no shared login,
// no group (its members cannot be checked), no "anyone" or "authenticated". The ACL must
// have an "anyone" line: a login no line names gets Dovecot's default rights, unseen.
// `name_logins`: say which user= login is the problem (retentionctl check), or not (the
// sweeper's summary names nobody).
std::vector<std::string> release_folder_unguarded(const std::vector<AclEntry>& entries,
                                                  const std::vector<std::string>& owner_rights,
                                                  const std::vector<std::string>& release_logins, bool name_logins);

// The release logins that cannot put mail into the folder (no user= line giving insert):
// the folder is still guarded, but those team leaders cannot use it.
std::vector<std::string> release_logins_without_insert(const std::vector<AclEntry>& entries,
                                                       const std::vector<std::string>& release_logins);

// The rights the sweep needs in a folder of the shared login's, as that login (reading
// it, and expunging what is past its date), that `owner_rights` lacks.
std::vector<std::string> sweeper_rights_lacking(const std::vector<std::string>& owner_rights);

// Whether the shared login may put mail into a folder (`owner_rights` from acl rights).
bool shared_login_can_insert(const std::vector<std::string>& owner_rights);

}  // namespace rm::sweep::dovecot
