#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/fs.hpp"
#include "core/strings.hpp"
#include "temp_dir.hpp"

using namespace rm;

TEST(Hex, RoundTripsBytesAndRefusesWhatIsNotHex) {
    const std::string bytes("\x00\x7f\x80\xff", 4);
    EXPECT_EQ(to_hex(bytes), "007f80ff");
    EXPECT_EQ(from_hex("007F80ff"), bytes);
    EXPECT_EQ(from_hex(""), std::string());
    for (const char* not_hex : {"abc", "zz", "+1"}) EXPECT_FALSE(from_hex(not_hex)) << not_hex;
}

TEST(Fs, NamesTheFolderOfAPath) {
    EXPECT_EQ(parent_dir("/var/lib/index.sqlite3"), "/var/lib");
    EXPECT_EQ(parent_dir("index.sqlite3"), ".");
    EXPECT_EQ(parent_dir("/index"), "/");
}

TEST(Fs, WritesModesAsChmodTakesThem) {
    EXPECT_EQ(mode_text(S_IFDIR | 02770), "2770");
    EXPECT_EQ(mode_text(S_IFREG | 0640), "0640");
}

TEST(Fs, TellsGlobPatternsFromPaths) {
    EXPECT_TRUE(has_glob("/home/*/Maildir"));
    EXPECT_TRUE(has_glob("/srv/mail/[ab]"));
    EXPECT_TRUE(has_glob("/srv/mail/?"));
    EXPECT_FALSE(has_glob("/srv/mail/helpline"));
}

TEST(Fs, OverwritesAFileWithZerosAndSyncsFolders) {
    const test::TempDir tmp("rm-fs");
    const std::string dir = tmp.path().string();
    const std::string file = dir + "/f";
    {
        UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        ASSERT_TRUE(fd);
        ASSERT_EQ(::write(fd.get(), "secret", 6), 6);
        EXPECT_EQ(overwrite_with_zeros(fd.get(), 6), 0);
        char buf[6] = {'x', 'x', 'x', 'x', 'x', 'x'};
        ASSERT_EQ(::pread(fd.get(), buf, 6, 0), 6);
        EXPECT_EQ(std::string(buf, 6), std::string(6, '\0'));
    }
    EXPECT_EQ(sync_dir(dir), 0);
    EXPECT_NE(sync_dir(dir + "/missing"), 0);
    struct stat st {};
    EXPECT_TRUE(open_file_at(AT_FDCWD, file, &st));
    EXPECT_FALSE(open_file_at(AT_FDCWD, dir, &st));  // a folder is not a regular file
    EXPECT_TRUE(open_dir_at(AT_FDCWD, dir));
}
