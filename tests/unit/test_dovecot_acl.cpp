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
const AclEntry kAnyoneLooks{"anyone", false, {"lookup"}};

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += x + "\n";
    return s;
}

}  // namespace

TEST(ReleaseFolderAcl, OnlyTheTeamLeadersInsertingIsGuarded) {
    const std::vector<AclEntry> acl{{"owner", false, kOwnerAsAdvised}, kLead, kAnyoneLooks};
    EXPECT_TRUE(release_folder_unguarded(acl, kOwnerAsAdvised, kLeads, true).empty());
    EXPECT_TRUE(release_logins_without_insert(acl, kLeads).empty());
    EXPECT_TRUE(sweeper_rights_lacking(kOwnerAsAdvised).empty());
    // Dovecot matches a user= line exactly: another case is another login, not a leader.
    EXPECT_EQ(release_folder_unguarded(acl, kOwnerAsAdvised, {"Lead@Respect.example"}, true).size(), 1u);
}

TEST(ReleaseFolderAcl, TheSharedLoginWithoutAnOwnerLineCanRelease) {
    // No owner line: Dovecot gives the owner every right, as acl rights then says.
    const auto all = acl_rights_of("lookup read write write-seen write-deleted insert post expunge create delete admin");
    const auto why = release_folder_unguarded({kLead, kAnyoneLooks}, all, kLeads, true);
    ASSERT_EQ(why.size(), 1u) << joined(why);
    EXPECT_NE(why[0].find("the shared login itself has insert, post, admin"), std::string::npos) << why[0];
    EXPECT_NE(why[0].find("owner line"), std::string::npos) << why[0];
}

TEST(ReleaseFolderAcl, AnyRightThatPutsMailInOrRewritesTheAclIsRefusedToOthers) {
    for (const char* right : {"insert", "post", "admin"}) {
        for (const char* id : {"anyone", "authenticated", "group=leads", "group-override=leads", "user=advisor@respect.example"}) {
            std::vector<AclEntry> acl{{"owner", false, kOwnerAsAdvised}, kLead, {id, false, {"lookup", right}}};
            if (std::string(id) != "anyone") acl.push_back(kAnyoneLooks);
            const auto why = release_folder_unguarded(acl, kOwnerAsAdvised, kLeads, true);
            ASSERT_EQ(why.size(), 1u) << id << " " << right;
            EXPECT_NE(why[0].find(right), std::string::npos) << why[0];
        }
    }
    // Reading, or a negative insert, releases nothing.
    const std::vector<AclEntry> harmless{{"owner", false, kOwnerAsAdvised}, kLead, kAnyoneLooks,
                                         {"authenticated", false, acl_rights_of("lookup read -insert")}};
    EXPECT_TRUE(release_folder_unguarded(harmless, kOwnerAsAdvised, kLeads, true).empty());
}

// A login no line of the folder's ACL names gets Dovecot's default rights, which acl get
// does not show (the INBOX's ACL may let every staff login insert).
TEST(ReleaseFolderAcl, WithoutAnAnyoneLineOtherLoginsGetDefaultsUnseen) {
    const auto why = release_folder_unguarded({{"owner", false, kOwnerAsAdvised}, kLead}, kOwnerAsAdvised, kLeads, true);
    ASSERT_EQ(why.size(), 1u) << joined(why);
    EXPECT_NE(why[0].find("no anyone line"), std::string::npos) << why[0];
    EXPECT_NE(why[0].find("anyone lookup"), std::string::npos) << why[0];
}

TEST(ReleaseFolderAcl, TheSweepersReasonsNameNoLogin) {
    const std::vector<AclEntry> acl{{"owner", false, kOwnerAsAdvised}, kAnyoneLooks,
                                    {"user=advisor@respect.example", true, {"insert"}}};
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
