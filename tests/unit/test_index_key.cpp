// The index records which key its digests were made with, so a wrong key (restored
// from the wrong backup) is reported instead of silently finding nothing.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>

#include "db/index.hpp"
#include "temp_dir.hpp"

using namespace rm;

TEST(IndexKey, UnknownUntilRememberedThenMatchesOnlyItsKey) {
    const test::TempDir tmp("rm-key");
    const std::string dir = tmp.path().string();
    {
        auto index = Index::open(dir + "/index.sqlite3", {.create = true, .read_only = false, .busy_timeout_ms = 1000});
        const DigestKey key = DigestKey::from_bytes(std::string(32, '\x42'));
        const DigestKey other = DigestKey::from_bytes(std::string(32, '\x43'));
        EXPECT_FALSE(index->key_matches(key).has_value());
        index->remember_key(key);
        EXPECT_EQ(index->key_matches(key), true);
        EXPECT_EQ(index->key_matches(other), false);
        index->remember_key(other);  // never replaces the recorded key
        EXPECT_EQ(index->key_matches(key), true);
    }
}

TEST(IndexKey, TheFingerprintRevealsNothingAndIsNoMessageDigest) {
    const DigestKey a = DigestKey::from_bytes(std::string(32, '\x42'));
    EXPECT_EQ(a.fingerprint().size(), 64u);
    EXPECT_EQ(a.fingerprint().find("4242"), std::string::npos);
    EXPECT_NE(a.fingerprint(), DigestKey::from_bytes(std::string(32, '\x43')).fingerprint());
}
