// core/maildir: Maildir names, header blocks, Maildir++ folders, all on generated trees.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/maildir.hpp"
#include "core/message_id_key.hpp"
#include "temp_dir.hpp"

using namespace rm;
namespace fs = std::filesystem;

namespace {

using test::TempDir;

void write(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
}

void make_maildir(const fs::path& p) {
    for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(p / sub);
}

HeaderBlock parse(const std::string& bytes) { return parse_header_block(bytes, true); }

HeaderBlock read_file(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    HeaderBlock h = read_header_block(fd);
    ::close(fd);
    return h;
}

std::string id_key(const HeaderBlock& h) {
    const std::string* v = first_field(h.fields, "Message-ID");
    return v ? message_id_key(*v) : std::string();
}

}  // namespace

TEST(MaildirName, ParsesUniqueInfoAndDeliveryTime) {
    const auto n = parse_maildir_name("1717171717.M12P34.host,S=1234,W=1260:2,RS");
    ASSERT_TRUE(n);
    EXPECT_EQ(n->unique, "1717171717.M12P34.host,S=1234,W=1260");
    EXPECT_EQ(n->info, ":2,RS");
    EXPECT_EQ(n->delivered, 1717171717);

    const auto fresh = parse_maildir_name("1717171717.M12P34.host");
    ASSERT_TRUE(fresh);
    EXPECT_EQ(fresh->unique, "1717171717.M12P34.host");
    EXPECT_EQ(fresh->info, "");
}

TEST(MaildirName, RefusesWhatIsNotAMaildirName) {
    for (const char* bad : {"", ".1717171717.M1.host", "dovecot-uidlist", "dovecot.index.cache", "subscriptions",
                            "maildirfolder", "1717171717", "1717171717.", "notes.txt", "abc.def", "17:2,S"}) {
        EXPECT_FALSE(parse_maildir_name(bad)) << bad;
    }
    EXPECT_FALSE(parse_maildir_name(std::string("1717171717.M1\n.host")));
}

TEST(HeaderBlock, FindsAFoldedMessageIdInAnyCase) {
    const auto h = parse("From: a@b\nmessage-id:\n <abc@\n example.org>\nSubject: x\n\nbody\n");
    ASSERT_EQ(h.status, HeaderBlock::Status::Ok);
    EXPECT_EQ(id_key(h), "abc@example.org");
    EXPECT_EQ(h.fields.size(), 3u);
    EXPECT_EQ(h.body_offset, h.raw.size() + 1);
}

TEST(HeaderBlock, CrlfLineEnds) {
    const std::string msg = "Message-ID: <x@y>\r\nSubject: s\r\n\r\nbody\r\n";
    const auto h = parse(msg);
    ASSERT_EQ(h.status, HeaderBlock::Status::Ok);
    EXPECT_TRUE(h.crlf);
    EXPECT_EQ(id_key(h), "x@y");
    EXPECT_EQ(msg.substr(h.body_offset), "body\r\n");
}

TEST(HeaderBlock, TheFirstMessageIdCountsAsForTheMilter) {
    const auto h = parse("Message-ID: <first@x>\nMessage-ID: <second@x>\n\n");
    EXPECT_EQ(id_key(h), "first@x");
}

TEST(HeaderBlock, GarbageIsNoHeaderBlock) {
    EXPECT_EQ(parse("this is not a header\nnor this\n\n").status, HeaderBlock::Status::NoHeaders);
    EXPECT_EQ(parse(std::string("\0\0\0\0binary", 10)).status, HeaderBlock::Status::NoHeaders);
    EXPECT_EQ(parse("\nbody only\n").status, HeaderBlock::Status::NoHeaders);
    EXPECT_EQ(parse(" continuation first\n\n").status, HeaderBlock::Status::NoHeaders);
    EXPECT_EQ(parse("").status, HeaderBlock::Status::Empty);
}

TEST(HeaderBlock, StopsAtAGarbageLineLikeAnMta) {
    const auto h = parse("Subject: s\nnot a header\nMessage-ID: <late@x>\n\n");
    ASSERT_EQ(h.status, HeaderBlock::Status::Ok);
    EXPECT_EQ(id_key(h), "");
}

TEST(HeaderBlock, HeadersWithoutABodyEndAtTheEndOfTheFile) {
    const auto h = parse("Message-ID: <nobody@x>\nSubject: no blank line");
    ASSERT_EQ(h.status, HeaderBlock::Status::Ok);
    EXPECT_EQ(id_key(h), "nobody@x");
    EXPECT_EQ(h.fields.back().value, "no blank line");
}

TEST(HeaderBlock, MalformedIdsAreKeyedAsTheMilterKeysThem) {
    const auto h = parse("Message-ID: not an id at all\n\n");
    EXPECT_EQ(id_key(h), message_id_key("not an id at all"));
    EXPECT_EQ(id_key(h), "notanidatall");
}

TEST(HeaderBlock, HugeHeadersAreTooLarge) {
    TempDir t;
    std::string big = "Message-ID: <big@x>\n";
    while (big.size() < kHeaderBlockCap + 1000) big += "X-Filler: " + std::string(70, 'a') + "\n";
    write(t.path() / "big", big + "\nbody\n");
    EXPECT_EQ(read_file(t.path() / "big").status, HeaderBlock::Status::TooLarge);

    // Just under the cap is fine, and reading stops at the block's end.
    std::string fine = "Message-ID: <fine@x>\n";
    while (fine.size() < kHeaderBlockCap - 200) fine += "X-Filler: " + std::string(70, 'b') + "\n";
    write(t.path() / "fine", fine + "\n" + std::string(3 * kHeaderBlockCap, 'z'));
    const auto h = read_file(t.path() / "fine");
    ASSERT_EQ(h.status, HeaderBlock::Status::Ok);
    EXPECT_EQ(id_key(h), "fine@x");
    EXPECT_EQ(h.body_offset, fine.size() + 1);
}

TEST(HeaderBlock, ABlankLineAcrossAReadBoundaryIsFound) {
    TempDir t;
    // The reader reads 16 KB at a time: the last header line ends on the chunk's last
    // byte and the empty line is the next chunk's first.
    const std::string lead = "Message-ID: <edge@x>\nX-Pad: ";
    const std::string head = lead + std::string(16384 - lead.size() - 1, 'p') + "\n";
    ASSERT_EQ(head.size(), 16384u);
    write(t.path() / "edge", head + "\nbody");
    const auto h = read_file(t.path() / "edge");
    ASSERT_EQ(h.status, HeaderBlock::Status::Ok);
    EXPECT_EQ(id_key(h), "edge@x");
    EXPECT_EQ(h.body_offset, head.size() + 1);
}

TEST(HeaderBlock, CompressedAndEncryptedFilesAreForeign) {
    EXPECT_EQ(parse(std::string("\x1f\x8b\x08\x00", 4)).foreign, "gzip");
    EXPECT_EQ(parse("BZh91AY&SY").foreign, "bzip2");
    EXPECT_EQ(parse(std::string("\xfd" "7zXZ\0\0", 7)).foreign, "xz");
    EXPECT_EQ(parse(std::string("\x28\xb5\x2f\xfd\x00", 5)).foreign, "zstd");
    EXPECT_EQ(parse("CRYPTED\x03\x07").foreign, "Dovecot mail_crypt");
    EXPECT_EQ(parse("CRYPTED\x03\x07").status, HeaderBlock::Status::Foreign);
}

TEST(MaildirFolders, ListsRootAndDotFoldersIncludingSpacesAndNesting) {
    TempDir t;
    const fs::path m = t.path() / "box";
    make_maildir(m);
    for (const char* f : {".Sent Items", ".Deleted Items", ".Deleted Items.Old stuff", ".Archive.2024", ".Trash"})
        make_maildir(m / f);
    fs::create_directories(m / ".NoMaildirHere");  // a parent Maildir++ never made: not a folder
    write(m / "dovecot-uidlist", "3 V1 N1\n");
    write(m / "subscriptions", "Sent Items\n");
    fs::create_directories(m / "sieve");  // a plain directory without cur/new: not LAYOUT=fs
    const UniqueFd fd = open_dir_at(AT_FDCWD, m.string());
    int err = 0;
    const MaildirLayout lay = inspect_maildir(fd.get(), &err);
    EXPECT_EQ(err, 0);
    EXPECT_TRUE(lay.root_has_maildir);
    EXPECT_TRUE(lay.not_maildirpp.empty()) << lay.not_maildirpp;
    std::vector<std::string> dirs;
    for (const auto& f : lay.folders) dirs.push_back(f.dir);
    EXPECT_EQ(dirs, (std::vector<std::string>{"", ".Archive.2024", ".Deleted Items", ".Deleted Items.Old stuff",
                                              ".Sent Items", ".Trash"}));
}

TEST(MaildirFolders, SymlinkedFoldersAreReportedNeverFollowed) {
    TempDir t;
    const fs::path m = t.path() / "box";
    make_maildir(m);
    make_maildir(t.path() / "elsewhere");
    fs::create_directory_symlink(t.path() / "elsewhere", m / ".Sent");
    const UniqueFd fd = open_dir_at(AT_FDCWD, m.string());
    const MaildirLayout lay = inspect_maildir(fd.get(), nullptr);
    EXPECT_EQ(lay.linked_folders, std::vector<std::string>{".Sent"});
    EXPECT_EQ(lay.folders.size(), 1u);
    EXPECT_FALSE(open_dir_at(fd.get(), ".Sent"));  // O_NOFOLLOW
}

TEST(MaildirFolders, DboxAndLayoutFsAreNotMaildirPlusPlus) {
    TempDir t;
    fs::create_directories(t.path() / "sdbox" / "mailboxes" / "INBOX" / "dbox-Mails");
    fs::create_directories(t.path() / "mdbox" / "storage");
    make_maildir(t.path() / "fs");
    make_maildir(t.path() / "fs" / "Sent");
    for (const char* name : {"sdbox", "mdbox", "fs"}) {
        const UniqueFd fd = open_dir_at(AT_FDCWD, (t.path() / name).string());
        EXPECT_FALSE(inspect_maildir(fd.get(), nullptr).not_maildirpp.empty()) << name;
    }
}

TEST(MaildirFolders, LazyExpungeFoldersAreRecognised) {
    TempDir t;
    const fs::path m = t.path() / "box";
    make_maildir(m);
    make_maildir(m / ".EXPUNGED");
    make_maildir(m / ".Expunged Items");
    const UniqueFd fd = open_dir_at(AT_FDCWD, m.string());
    EXPECT_EQ(inspect_maildir(fd.get(), nullptr).lazy_expunge.size(), 2u);
    EXPECT_FALSE(looks_like_lazy_expunge(".Sent"));
}

TEST(MaildirFolders, FolderDirectoriesAsDovecotNamesThem) {
    EXPECT_EQ(folder_dir_for("Sent"), ".Sent");
    EXPECT_EQ(folder_dir_for("Sent Items"), ".Sent Items");
    EXPECT_EQ(folder_dir_for("INBOX"), "");
    EXPECT_EQ(folder_dir_for("INBOX.Trash"), ".Trash");
    EXPECT_EQ(folder_dir_for("Archive/2024"), ".Archive.2024");
    EXPECT_EQ(folder_dir_for("Envoyés"), ".Envoy&AOk-s");
    EXPECT_EQ(folder_dir_for("A&B"), ".A&-B");
    EXPECT_EQ(to_modified_utf7("台北"), "&U,BTFw-");  // RFC 3501's example
    EXPECT_TRUE(folder_is_or_below(".Deleted Items.Old", ".Deleted Items"));
    EXPECT_TRUE(folder_is_or_below(".Sent", ".Sent"));
    EXPECT_FALSE(folder_is_or_below(".Sent Items", ".Sent"));
    EXPECT_FALSE(folder_is_or_below(".Sentinel", ".Sent"));
}

// Found by tests/fuzz/fuzz_maildir: an overlong UTF-8 "/" (C0 AF) came out of
// to_modified_utf7 as a real '/', a path separator in a folder's directory name.
TEST(MaildirFolders, InvalidUtf8NeverSpellsASeparator) {
    EXPECT_EQ(folder_dir_for("a\xc0\xaf..\xc0\xaf" "b").find('/'), std::string::npos);
    EXPECT_EQ(to_modified_utf7("\xc0\xaf"), "&,,0-");           // one U+FFFD
    EXPECT_EQ(to_modified_utf7("\xe0\x80\xae"), "&,,0-");       // overlong '.'
    EXPECT_EQ(to_modified_utf7("\xed\xa0\x80"), "&,,0-");       // a lone surrogate
}

TEST(MaildirFolders, FindsAMessageMovedFromNewToCur) {
    TempDir t;
    const fs::path m = t.path() / "box";
    make_maildir(m);
    write(m / "cur" / "1700000000.M1P1.host:2,S", "Message-ID: <a@b>\n\n");
    const UniqueFd fd = open_dir_at(AT_FDCWD, m.string());
    const auto found = find_maildir_unique(fd.get(), "1700000000.M1P1.host");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->sub, "cur");
    EXPECT_EQ(found->name, "1700000000.M1P1.host:2,S");
    EXPECT_FALSE(find_maildir_unique(fd.get(), "1700000000.M1P"));
    // Dovecot's size fields after the base do not change what the message is.
    write(m / "new" / "1700000001.M2P2.host,S=10,W=11", "Message-ID: <c@d>\n\n");
    EXPECT_EQ(find_maildir_unique(fd.get(), "1700000001.M2P2.host,S=99")->name, "1700000001.M2P2.host,S=10,W=11");
    EXPECT_EQ(maildir_base("1700000001.M2P2.host,S=10,W=11:2,S"), "1700000001.M2P2.host");
}

TEST(MaildirFolders, ListsTheBasesOfCurAndNewAndNothingElse) {
    TempDir t;
    const fs::path m = t.path() / "box";
    make_maildir(m);
    write(m / "cur" / "1700000000.M1P1.host,S=5:2,S", "x");
    write(m / "new" / "1700000001.M2P2.host", "x");
    write(m / "tmp" / "1700000002.M3P3.host", "x");  // not delivered yet
    write(m / "cur" / ".retention-sweep.1700000003.M4P4.host", "x");
    const UniqueFd fd = open_dir_at(AT_FDCWD, m.string());
    auto bases = MaildirBases::list(fd.get());
    ASSERT_TRUE(bases);
    EXPECT_EQ(bases->size(), 2u);
    EXPECT_TRUE(bases->may_hold("1700000000.M1P1.host"));
    EXPECT_TRUE(bases->may_hold("1700000001.M2P2.host"));
    EXPECT_FALSE(bases->may_hold("1700000002.M3P3.host"));
    EXPECT_FALSE(bases->may_hold("1700000000.M1P1"));
    bases->add("1700000002.M3P3.host");  // put there by the caller since
    EXPECT_TRUE(bases->may_hold("1700000002.M3P3.host"));
    // Half a listing would say "not there" of a message that is: none at all instead.
    fs::remove_all(m / "new");
    EXPECT_FALSE(MaildirBases::list(fd.get()));
}

TEST(MaildirFiles, OpenFileRefusesLinksAndFifos) {
    TempDir t;
    write(t.path() / "target", "Message-ID: <a@b>\n\n");
    fs::create_symlink(t.path() / "target", t.path() / "link");
    ASSERT_EQ(::mkfifo((t.path() / "fifo").c_str(), 0600), 0);
    const UniqueFd dir = open_dir_at(AT_FDCWD, t.path().string());
    struct stat st {};
    EXPECT_TRUE(open_file_at(dir.get(), "target", &st));
    EXPECT_FALSE(open_file_at(dir.get(), "link", &st));
    EXPECT_EQ(errno, ELOOP);
    EXPECT_FALSE(open_file_at(dir.get(), "fifo", &st));  // and it did not hang
    EXPECT_EQ(errno, EINVAL);
}

namespace {

HeaderFields read_fields(const fs::path& p, const std::vector<std::string_view>& wanted) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    HeaderFields h = read_header_fields(fd, wanted);
    ::close(fd);
    return h;
}

}  // namespace

TEST(HeaderFields, AHeaderOfAnySizeIsReadThroughKeepingOnlyWhatIsWanted) {
    TempDir t;
    // A long relay chain: each field under Postfix's 100 KB limit, the block far over 256 KB.
    std::string head = "Received: from a\nMessage-ID: <first@x>\n";
    while (head.size() < 3 * kHeaderBlockCap)
        head += "Received: from relay.example.org by mx.example.org; " + std::string(90 * 1024, 'r') + "\n";
    head += "X-Retention-Record: one\n\tfolded\r\nMESSAGE-ID:   <second@x>\n";
    write(t.path() / "long", head + "\nbody\n");
    const auto h = read_fields(t.path() / "long", {"Message-ID", "X-Retention-Record"});
    ASSERT_EQ(h.status, HeaderBlock::Status::Ok);
    ASSERT_EQ(h.fields.size(), 3u);
    EXPECT_EQ(h.fields[0].value, "<first@x>");
    EXPECT_EQ(h.fields[1].name, "X-Retention-Record");
    EXPECT_EQ(h.fields[1].value, "one\n\tfolded");
    EXPECT_EQ(h.fields[2].name, "MESSAGE-ID");
    EXPECT_EQ(h.fields[2].value, "<second@x>");
    // The old reader gives up on the same file.
    EXPECT_EQ(read_file(t.path() / "long").status, HeaderBlock::Status::TooLarge);
}

TEST(HeaderFields, StopsAtTheBodyAndBoundsEachKeptField) {
    TempDir t;
    write(t.path() / "body", "Subject: s\n\nMessage-ID: <in-the-body@x>\n");
    auto h = read_fields(t.path() / "body", {"Message-ID"});
    EXPECT_EQ(h.status, HeaderBlock::Status::Ok);
    EXPECT_TRUE(h.fields.empty());

    // A field longer than an MTA passes is dropped, and the fields after it are still read.
    write(t.path() / "huge-id", "Message-ID: <" + std::string(kWantedFieldCap + 10, 'i') +
                                    "@x>\nX-Retention-Record: mine\n\nbody");
    h = read_fields(t.path() / "huge-id", {"Message-ID", "X-Retention-Record"});
    EXPECT_EQ(h.status, HeaderBlock::Status::Ok);
    ASSERT_EQ(h.fields.size(), 1u);
    EXPECT_EQ(h.fields[0].value, "mine");
    // So are instances of a name past its share: padding cannot hide a later field.
    std::string padded;
    for (int i = 0; i < 12; ++i) padded += "Message-ID: <" + std::string(95 * 1024, 'p') + "@x>\n";
    write(t.path() / "padded", padded + "X-Retention-Record: mine\n\nbody");
    h = read_fields(t.path() / "padded", {"Message-ID", "X-Retention-Record"});
    EXPECT_EQ(h.status, HeaderBlock::Status::Ok);
    ASSERT_FALSE(h.fields.empty());
    EXPECT_EQ(h.fields.back().value, "mine");
    EXPECT_LT(h.fields.size(), 12u);
    // The same length in a field nobody wants costs nothing.
    write(t.path() / "huge-other", "X-Junk: " + std::string(kWantedFieldCap + 10, 'j') + "\nMessage-ID: <m@x>\n\n");
    h = read_fields(t.path() / "huge-other", {"Message-ID"});
    ASSERT_EQ(h.status, HeaderBlock::Status::Ok);
    ASSERT_EQ(h.fields.size(), 1u);
    EXPECT_EQ(h.fields[0].value, "<m@x>");

    write(t.path() / "empty", "");
    EXPECT_EQ(read_fields(t.path() / "empty", {"Message-ID"}).status, HeaderBlock::Status::Empty);
    write(t.path() / "gz", std::string("\x1f\x8b\x08\0\0\0", 6));
    EXPECT_EQ(read_fields(t.path() / "gz", {"Message-ID"}).foreign, "gzip");
    write(t.path() / "garbage", "no field here\n\n");
    EXPECT_EQ(read_fields(t.path() / "garbage", {"Message-ID"}).status, HeaderBlock::Status::NoHeaders);
}
