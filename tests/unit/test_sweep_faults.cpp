// retention-sweep under file-system faults, on real file systems: the disk of
// the shared mailbox full while a personal Sent copy is moved into it. Needs root to mount
// a small tmpfs; skipped otherwise.
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "sweep_test_util.hpp"

using namespace sweeptest;
using rm::sweep::Skip;
using rm::sweep::Summary;

namespace {

// A tmpfs mounted on `where` for the test's lifetime (unmounted before the World goes).
class Tmpfs {
public:
    Tmpfs(const fs::path& where, const char* size) : where_(where) {
        fs::create_directories(where);
        const std::string opts = std::string("size=") + size + ",mode=0755";
        if (::mount("rm-sweep-faults", where.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) == 0) {
            mounted_ = true;
        } else {
            error_ = std::strerror(errno);
        }
    }
    ~Tmpfs() {
        if (mounted_) ::umount2(where_.c_str(), MNT_DETACH);
    }
    Tmpfs(const Tmpfs&) = delete;
    Tmpfs& operator=(const Tmpfs&) = delete;
    bool mounted() const { return mounted_; }
    const std::string& error() const { return error_; }

private:
    fs::path where_;
    bool mounted_ = false;
    std::string error_;
};

// Fills the file system of `dir` with `file` to its last byte, then gives back `leave`
// bytes, so that a write of more than that fails part-way with ENOSPC.
void fill(const fs::path& file, off_t leave) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    const std::string chunk(65536, 'F');
    off_t size = 0;
    for (;;) {
        const ssize_t n = ::write(fd, chunk.data(), chunk.size());
        if (n <= 0) break;
        size += n;
    }
    ASSERT_EQ(::ftruncate(fd, size > leave ? size - leave : 0), 0);
    ::close(fd);
}

}  // namespace

// The copy is written in the destination's tmp/ and renamed only once it is complete and
// synced, and the source goes last: with the disk full, the write fails part-way, the
// partial copy is removed from tmp/, nothing appears in cur/ or new/, the source stays as
// it was, the run says so (exit 4, skip move_failed), and the next run with room moves it.
TEST(SweepFaults, ADiskFullDuringAMoveLosesNothingAndTheNextRunMovesIt) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
    World w;
    // The helpline's shared mailbox on a 1 MB file system of its own.
    fs::remove_all(w.shared_a);
    Tmpfs disk(w.shared_a, "1m");
    if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.error();
    make_maildir(w.shared_a);
    make_maildir(w.shared_a / ".Sent");

    // Alice's client saved her reply in her Sent folder: 300 KB with an attachment.
    const fs::path alice = w.staff / "alice";
    make_maildir(alice / ".Sent");
    const std::string name = "1760000000.M7P7.client,S=300000:2,S";
    const fs::path copy = alice / ".Sent" / "cur" / name;
    std::string original = "Message-ID: <big-reply@x>\nSubject: re\n\n";
    while (original.size() < 300000) original += "attachment line of the reply, base64 or so\n";
    spit(copy, original);
    w.row("big-reply@x", "2026-07-01", "respect-phoneline", "outbound");

    // Room for 64 KB: the copy starts, and the disk fills under it.
    const fs::path filler = w.shared_a / "filler";
    fill(filler, 64 * 1024);

    const Summary s = w.sweep(at("2026-06-15"));
    EXPECT_EQ(s.exit_code, 4) << w.last_error;
    EXPECT_EQ(skips(s, Skip::MoveFailed), 1);
    EXPECT_EQ(s.lines.count("respect-phoneline") ? s.lines.at("respect-phoneline").moved : 0, 0);
    ASSERT_TRUE(fs::exists(copy)) << "the source copy was lost";
    EXPECT_EQ(slurp(copy), original) << "the source copy changed";
    for (const char* sub : {"cur", "new", "tmp"}) {
        EXPECT_TRUE(fs::is_empty(w.shared_a / ".Sent" / sub)) << "something was left in .Sent/" << sub;
        EXPECT_TRUE(fs::is_empty(w.shared_a / sub)) << "something was left in " << sub;
    }
    ASSERT_EQ(w.rows("big-reply@x").size(), 1u);
    EXPECT_EQ(w.rows("big-reply@x")[0].state, rm::RowState::Present);

    // Room again: the next run moves it, whole, with our headers on top.
    fs::remove(filler);
    const Summary again = w.sweep(at("2026-06-15", 4));
    EXPECT_EQ(again.exit_code, 0) << w.last_error;
    EXPECT_EQ(again.lines.at("respect-phoneline").moved, 1);
    EXPECT_FALSE(fs::exists(copy));
    std::vector<fs::path> moved;
    for (const auto& e : fs::directory_iterator(w.shared_a / ".Sent" / "cur")) moved.push_back(e.path());
    ASSERT_EQ(moved.size(), 1u);
    const std::string bytes = slurp(moved[0]);
    const std::string headers =
        "X-Helpline-Line: respect-phoneline\nX-Helpline-Direction: outbound\nX-Retain-Until: 2026-07-01\n"
        "X-Retention-Policy: email\n";
    EXPECT_EQ(bytes, headers + original);
    EXPECT_TRUE(fs::is_empty(w.shared_a / ".Sent" / "tmp"));
    EXPECT_TRUE(fs::is_empty(w.shared_a / ".Sent" / "new"));
}
