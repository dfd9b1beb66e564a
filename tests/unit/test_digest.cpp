// The digest key file and the Message-ID digest (db/digest.cpp).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/strings.hpp"
#include "db/index.hpp"
#include "index_test_util.hpp"

using namespace rm;
namespace fs = std::filesystem;

namespace {

class DigestKeyTest : public test::IndexDirTest {
protected:
    void SetUp() override {
        IndexDirTest::SetUp();
        key_ = dir_ + "/index.key";
        index_ = path_;
    }

    static mode_t mode_of(const std::string& p) { return test::mode_of(p); }
    static std::string slurp(const std::string& p) { return test::slurp(p); }
    static void write_file(const std::string& p, const std::string& bytes, mode_t mode) {
        std::ofstream(p, std::ios::binary) << bytes;
        ASSERT_EQ(::chmod(p.c_str(), mode), 0);
    }
    // The message of the IndexError that `f` throws, or "" when it throws none.
    template <typename F>
    static std::string error_of(F f) {
        try {
            f();
        } catch (const IndexError& e) {
            return e.what();
        }
        return {};
    }

    std::string key_, index_;
};

}  // namespace

TEST(Digest, IsHmacSha256) {
    // RFC 4231, test case 2.
    const DigestKey key = DigestKey::from_bytes("Jefe");
    EXPECT_EQ(to_hex(key.digest("what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Digest, IsDeterministicThirtyTwoBytesAndDependsOnKeyAndId) {
    const DigestKey a = DigestKey::from_bytes(std::string(32, 'a'));
    const DigestKey b = DigestKey::from_bytes(std::string(32, 'b'));
    const Digest d = a.digest("abc@example.org");
    EXPECT_EQ(d.size(), 32u);
    EXPECT_EQ(d, a.digest("abc@example.org"));
    EXPECT_NE(d, b.digest("abc@example.org"));
    EXPECT_NE(d, a.digest("abd@example.org"));
    EXPECT_EQ(d.find("abc"), std::string::npos);
}

TEST(Digest, RefusesAnEmptyKey) { EXPECT_THROW(DigestKey::from_bytes(""), IndexError); }

TEST_F(DigestKeyTest, IsMadeOnceTogetherWithANewIndex) {
    const mode_t old = ::umask(0);  // a careless umask must not loosen the key's mode
    const DigestKey first = DigestKey::load_or_create(key_, index_, true);
    ::umask(old);
    EXPECT_EQ(mode_of(key_), 0640u);
    const std::string bytes = slurp(key_);
    EXPECT_EQ(bytes.size(), 32u);
    EXPECT_NE(bytes, std::string(32, '\0'));
    const DigestKey again = DigestKey::load_or_create(key_, index_, true);
    EXPECT_EQ(slurp(key_), bytes);
    EXPECT_EQ(first.digest("x@y"), again.digest("x@y"));
    for (const auto& e : fs::directory_iterator(dir_)) {
        EXPECT_EQ(e.path().filename(), "index.key") << "stray file " << e.path();
    }
}

TEST_F(DigestKeyTest, TakesTheGroupOfTheIndexFolder) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to choose a folder's group";
    const std::string index_dir = dir_ + "/state";
    fs::create_directory(index_dir);
    ASSERT_EQ(::chown(index_dir.c_str(), static_cast<uid_t>(-1), 4242), 0);
    DigestKey::load_or_create(key_, index_dir + "/index.sqlite3", true);
    struct stat st {};
    ASSERT_EQ(::stat(key_.c_str(), &st), 0);
    EXPECT_EQ(st.st_gid, 4242u);
}

TEST_F(DigestKeyTest, TwoKeysMadeForDifferentIndexesDiffer) {
    const DigestKey a = DigestKey::load_or_create(key_, index_, true);
    const DigestKey b = DigestKey::load_or_create(dir_ + "/other.key", dir_ + "/other.sqlite3", true);
    EXPECT_NE(a.digest("m@x"), b.digest("m@x"));
}

TEST_F(DigestKeyTest, MissingKeyBesideAnExistingIndexIsAnError) {
    write_file(index_, "not empty", 0660);
    const std::string err = error_of([&] { DigestKey::load_or_create(key_, index_, true); });
    EXPECT_NE(err.find("the index " + index_ + " exists but its key file " + key_ + " is missing"), std::string::npos)
        << err;
    EXPECT_NE(err.find("restore the key from backup"), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(key_)) << "a new key would orphan every row";
}

TEST_F(DigestKeyTest, KeyThatOthersCanReadOrWriteIsAnError) {
    for (mode_t mode : {0644u, 0642u, 0601u, 0666u}) {
        write_file(key_, std::string(32, 'k'), mode);
        const std::string err = error_of([&] { DigestKey::load_or_create(key_, index_, true); });
        EXPECT_NE(err.find("can be read or written by others"), std::string::npos) << mode << ": " << err;
        EXPECT_NE(err.find(key_), std::string::npos) << err;
    }
    ::chmod(key_.c_str(), 0640);
    EXPECT_NO_THROW(DigestKey::load_or_create(key_, index_, true));
    ::chmod(key_.c_str(), 0600);
    EXPECT_NO_THROW(DigestKey::load_or_create(key_, index_, false));
}

TEST_F(DigestKeyTest, KeyOfTheWrongSizeIsAnError) {
    for (const std::string& bytes : {std::string(), std::string(31, 'k'), std::string(64, 'k')}) {
        write_file(key_, bytes, 0640);
        const std::string err = error_of([&] { DigestKey::load_or_create(key_, index_, true); });
        EXPECT_NE(err.find("bytes long, a key is 32"), std::string::npos) << err;
    }
}

TEST_F(DigestKeyTest, KeyThatIsNotAFileIsAnError) {
    fs::create_directory(key_);
    ::chmod(key_.c_str(), 0750);
    const std::string err = error_of([&] { DigestKey::load_or_create(key_, index_, true); });
    EXPECT_NE(err.find("is not a regular file"), std::string::npos) << err;
}

TEST_F(DigestKeyTest, KeyInAMissingFolderIsAnError) {
    const std::string err =
        error_of([&] { DigestKey::load_or_create(dir_ + "/no/such/dir/index.key", index_, true); });
    EXPECT_NE(err.find("cannot create the key file"), std::string::npos) << err;
}

TEST_F(DigestKeyTest, WithoutMayCreateNothingIsMade) {
    const std::string err = error_of([&] { DigestKey::load_or_create(key_, index_, false); });
    EXPECT_NE(err.find("there is no key file " + key_), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(key_));
}

TEST_F(DigestKeyTest, AnExistingKeyIsUsedEvenBeforeTheIndexExists) {
    write_file(key_, std::string(32, 'k'), 0640);
    const DigestKey k = DigestKey::load_or_create(key_, index_, false);
    EXPECT_EQ(k.digest("a@b"), DigestKey::from_bytes(std::string(32, 'k')).digest("a@b"));
}
