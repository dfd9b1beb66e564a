// Whether Dovecot's ACL guards a release folder: the logic, on ACLs as doveadm gives them.
#include <gtest/gtest.h>

#include "sweeper/dovecot/acl.hpp"

using rm::sweep::dovecot::AclEntry;
using rm::sweep::dovecot::acl_entry_of;
using rm::sweep::dovecot::acl_rights_of;
using rm::sweep::dovecot::release_folder_unguarded;
using rm::sweep::dovecot::release_logins_without_insert;
using rm::sweep::dovecot::sweeper_rights_lacking;

namespace {

const std::vector<std::string> kLeads{"lead@respect.example"};
const std::vector<std::string> kOwnerAsAdvised = acl_rights_of("lookup read write-seen write-deleted expunge");
const AclEntry kLead{"user=lead@respect.example", false, acl_rights_of("lookup read write-seen insert expunge")};

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += x + "\n";
    return s;
}

}  // namespace

TEST(ReleaseFolderAcl, OnlyTheTeamLeadersInsertingIsGuarded) {
    const std::vector<AclEntry> acl{{"owner", false, kOwnerAsAdvised}, kLead};
    EXPECT_TRUE(release_folder_unguarded(acl, kOwnerAsAdvised, kLeads, true).empty());
    EXPECT_TRUE(release_logins_without_insert(acl, kLeads).empty());
    EXPECT_TRUE(sweeper_rights_lacking(kOwnerAsAdvised).empty());
    // Dovecot's logins are matched whatever their case.
    EXPECT_TRUE(release_folder_unguarded(acl, kOwnerAsAdvised, {"Lead@Respect.example"}, true).empty());
}

TEST(ReleaseFolderAcl, TheSharedLoginWithoutAnOwnerLineCanRelease) {
    // No owner line: Dovecot gives the owner every right, as acl rights then says.
    const auto all = acl_rights_of("lookup read write write-seen write-deleted insert post expunge create delete admin");
    const auto why = release_folder_unguarded({kLead}, all, kLeads, true);
    ASSERT_EQ(why.size(), 1u) << joined(why);
    EXPECT_NE(why[0].find("the shared login itself has insert, post, admin"), std::string::npos) << why[0];
    EXPECT_NE(why[0].find("owner line"), std::string::npos) << why[0];
}

TEST(ReleaseFolderAcl, AnyRightThatPutsMailInOrRewritesTheAclIsRefusedToOthers) {
    for (const char* right : {"insert", "post", "admin"}) {
        for (const char* id : {"anyone", "authenticated", "group=leads", "group-override=leads", "user=advisor@respect.example"}) {
            const std::vector<AclEntry> acl{{"owner", false, kOwnerAsAdvised}, kLead, {id, false, {"lookup", right}}};
            const auto why = release_folder_unguarded(acl, kOwnerAsAdvised, kLeads, true);
            ASSERT_EQ(why.size(), 1u) << id << " " << right;
            EXPECT_NE(why[0].find(right), std::string::npos) << why[0];
        }
    }
    // Reading, or a negative insert, releases nothing.
    const std::vector<AclEntry> harmless{{"owner", false, kOwnerAsAdvised}, kLead,
                                         {"authenticated", false, acl_rights_of("lookup read -insert")}};
    EXPECT_TRUE(release_folder_unguarded(harmless, kOwnerAsAdvised, kLeads, true).empty());
}

TEST(ReleaseFolderAcl, TheSweepersReasonsNameNoLogin) {
    const std::vector<AclEntry> acl{{"owner", false, kOwnerAsAdvised}, {"user=advisor@respect.example", true, {"insert"}}};
    const auto named = release_folder_unguarded(acl, kOwnerAsAdvised, kLeads, true);
    const auto anonymous = release_folder_unguarded(acl, kOwnerAsAdvised, kLeads, false);
    ASSERT_EQ(named.size(), 1u);
    ASSERT_EQ(anonymous.size(), 1u);
    EXPECT_NE(named[0].find("user=advisor@respect.example (in the global ACL file)"), std::string::npos) << named[0];
    EXPECT_EQ(anonymous[0].find('@'), std::string::npos) << anonymous[0];
    EXPECT_NE(anonymous[0].find("a login not in release_logins"), std::string::npos) << anonymous[0];
}

TEST(ReleaseFolderAcl, ALeaderWithoutInsertAndASweeperWithoutExpungeAreTold) {
    const std::vector<AclEntry> acl{{"owner", false, acl_rights_of("lookup read")},
                                    {"user=lead@respect.example", false, {"lookup", "read"}}};
    EXPECT_EQ(release_logins_without_insert(acl, kLeads), kLeads);
    EXPECT_EQ(sweeper_rights_lacking(acl_rights_of("lookup read")), (std::vector<std::string>{"write-deleted", "expunge"}));
}

TEST(ReleaseFolderAcl, ReadsDoveadmsRows) {
    const AclEntry e = acl_entry_of({{"id", "user=lead@x"}, {"global", "global"}, {"rights", "insert lookup -post"}});
    EXPECT_EQ(e.id, "user=lead@x");
    EXPECT_TRUE(e.global);
    EXPECT_EQ(e.rights, (std::vector<std::string>{"insert", "lookup", "-post"}));
    EXPECT_FALSE(acl_entry_of({{"id", "owner"}, {"global", ""}, {"rights", ""}}).global);
}
