// The pending journal: rows the milter could not write to the index while
// on_index_error = "accept", kept in [index] pending_journal until they can be imported.
//
// One line per row, tab-separated, nothing that identifies a person (the same fields as
// the index row, the digests in hex):
//   rm2 TOKEN DIGEST-HEX QUEUE-ID LINES DIRECTION POLICY PASSED-ON RETAIN-UNTIL RECORD-HEX
// RECORD-HEX is empty for a row whose copies carry no record token. Lines of the older
// form "rm1" (the same without RECORD-HEX) are still imported.
// TOKEN is 16 random bytes in hex, stored with the imported row, so a journal imported
// twice (a crash after the import committed but before the journal was removed) adds
// nothing twice.
//
// Concurrency: the milter appends while retentionctl may import. Each append opens the
// journal, takes flock(LOCK_EX), checks it still holds the file named as the journal
// (not one an importer has just renamed aside), writes the whole line with one write()
// and fsyncs. The importer renames the journal aside first, then takes the same lock, so
// every append that reached the old file has finished before it is read.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "db/journal.hpp"

#include "core/strings.hpp"
#include "core/random.hpp"
#include "db/detail.hpp"
#include "db/row_check.hpp"

namespace rm {

using namespace dbdetail;

namespace {

constexpr std::string_view kMagic = "rm2";
constexpr std::size_t kFields = 10;
constexpr std::string_view kMagicV1 = "rm1";
constexpr std::size_t kFieldsV1 = 9;

// row_problem() refuses control characters, so no field can hold a tab or a line break.
std::string journal_line(const MessageRow& row, const std::string& path) {
    if (auto problem = row_problem(row)) throw IndexError("pending journal " + path + ": refusing a row: " + *problem);
    const std::vector<std::string> fields = {std::string(kMagic), to_hex(random_bytes(16, "a journal line")), to_hex(row.digest),
                                             row.queue_id, row.lines, row.direction, row.policy,
                                             format_date(row.passed_on), format_date(row.retain_until),
                                             to_hex(row.record)};
    return join(fields, "\t") + "\n";
}

// One line back into a row; nothing when it is malformed (then it is kept aside).
std::optional<JournalledRow> parse_line(std::string_view line) {
    const std::vector<std::string> f = split(line, '\t');
    const bool v1 = f.size() == kFieldsV1 && f[0] == kMagicV1;
    if (!v1 && (f.size() != kFields || f[0] != kMagic)) return std::nullopt;
    if (f[1].size() != 32) return std::nullopt;
    JournalledRow jr;
    if (!v1) {
        auto record = from_hex(f[9]);
        if (!record) return std::nullopt;
        jr.row.record = std::move(*record);
    }
    auto digest = from_hex(f[2]);
    if (!from_hex(f[1]) || !digest || digest->size() != 32) return std::nullopt;
    jr.row.digest = std::move(*digest);
    jr.token = f[1];
    jr.row.queue_id = f[3];
    jr.row.lines = f[4];
    jr.row.direction = f[5];
    jr.row.policy = f[6];
    auto passed = parse_date(f[7]), until = parse_date(f[8]);
    if (!passed || !until) return std::nullopt;
    jr.row.passed_on = *passed;
    jr.row.retain_until = *until;
    // The same checks as the import's INSERT: a line that passes here cannot fail there
    // and block the whole journal.
    if (row_problem(jr.row)) return std::nullopt;
    return jr;
}

// True when `fd` is still the file at `path` (an importer may have renamed it aside).
bool still_named(int fd, const std::string& path) {
    struct stat a {}, b {};
    if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0) return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Opens the journal for appending, locked, and (when new) mode 0660 with the index's group.
int open_locked_for_append(const std::string& path, const std::string& index_path, bool& created) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
        if (fd < 0) throw IndexError("cannot open the pending journal " + path + ": " + errno_text(errno));
        if (::flock(fd, LOCK_EX) != 0) {
            const int err = errno;
            ::close(fd);
            throw IndexError("cannot lock the pending journal " + path + ": " + errno_text(err));
        }
        if (still_named(fd, path)) {
            struct stat st {};
            created = ::fstat(fd, &st) == 0 && st.st_size == 0;
            if (created) {
                ::fchmod(fd, 0660);  // whatever the umask; failure leaves the create mode
                try {
                    give_index_owner(fd, path, index_path);
                } catch (...) {
                    ::close(fd);
                    throw;
                }
            }
            return fd;
        }
        ::close(fd);  // renamed aside by an importer: open the new one
    }
    throw IndexError("cannot append to the pending journal " + path + ": it keeps being replaced");
}

std::string read_all(int fd, const std::string& path) {
    std::string data;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw IndexError("cannot read the pending journal " + path + ": " + errno_text(errno));
        if (n == 0) return data;
        data.append(buf, static_cast<std::size_t>(n));
    }
}

// Keeps malformed lines for the admin instead of dropping rows silently.
void keep_rejected(const std::string& path, const std::string& index_path, const std::vector<std::string>& lines) {
    if (lines.empty()) return;
    std::string data;
    for (const auto& l : lines) data += l + "\n";
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660));
    if (fd.get() < 0) return;
    ::fchmod(fd.get(), 0660);
    give_index_owner(fd.get(), path, index_path);
    const ssize_t n = ::write(fd.get(), data.data(), data.size());
    ::fsync(fd.get());
    if (n != static_cast<ssize_t>(data.size())) spdlog::warn("could not keep every malformed line in {}", path);
}

}  // namespace

PendingJournal::PendingJournal(std::string path, std::string index_path)
    : index_path_(std::move(index_path)), path_(std::move(path)) {}

PendingJournal::PendingJournal(const IndexSection& c) : PendingJournal(c.pending_journal, c.path) {}

PendingJournal::PendingJournal(const std::string& index_path) : PendingJournal(index_path + ".pending", index_path) {}

bool PendingJournal::has_rows() const {
    struct stat st {};
    for (const std::string& p : {path_, path_ + ".importing"})
        if (::stat(p.c_str(), &st) == 0 && st.st_size > 0) return true;
    return false;
}

void PendingJournal::append(const MessageRow& row) {
    const std::string line = journal_line(row, path_);
    bool created = false;
    UniqueFd fd(open_locked_for_append(path_, index_path_, created));
    struct stat st {};
    const off_t before = ::fstat(fd.get(), &st) == 0 ? st.st_size : -1;
    // One write() for the whole line: a torn line can only be the last, and is cut off below.
    const ssize_t n = ::write(fd.get(), line.data(), line.size());
    const int write_err = errno;
    const bool ok = n == static_cast<ssize_t>(line.size()) && ::fsync(fd.get()) == 0;
    if (!ok) {
        const int err = n < 0 ? write_err : errno;
        // Drop a torn line, so the next append starts on a line of its own. If even that
        // fails, the importer skips the joined line (and keeps it in ".rejected").
        if (before >= 0 && ::ftruncate(fd.get(), before) != 0) {
        }
        throw IndexError("cannot write the pending journal " + path_ + ": " +
                         (n >= 0 && n < static_cast<ssize_t>(line.size()) ? std::string("short write") : errno_text(err)));
    }
    if (created) sync_dir_or_throw(parent_dir(path_));
}

int PendingJournal::import_file(Index& index, const std::string& file) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT) return 0;
        throw IndexError("cannot open the pending journal " + file + ": " + errno_text(errno));
    }
    if (::flock(fd.get(), LOCK_EX) != 0) throw IndexError("cannot lock " + file + ": " + errno_text(errno));
    const std::string data = read_all(fd.get(), file);
    std::vector<JournalledRow> rows;
    std::vector<std::string> rejected;
    for (const std::string& line : split(data, '\n')) {
        if (line.empty()) continue;
        if (auto jr = parse_line(line)) {
            rows.push_back(std::move(*jr));
        } else {
            rejected.push_back(line);
        }
    }
    const int imported = index.insert_journalled(rows);
    // Only after the rows are committed: a crash before this line imports the same file
    // again next time, and the tokens keep that from adding anything twice.
    keep_rejected(rejected_path(), index_path_, rejected);
    skipped_ += static_cast<int>(rejected.size());
    if (::unlink(file.c_str()) != 0) throw IndexError("cannot remove " + file + ": " + errno_text(errno));
    sync_dir_or_throw(parent_dir(file));
    return imported;
}

int PendingJournal::import_into(Index& index) {
    skipped_ = 0;
    const std::string aside = path_ + ".importing";
    if (::access(path_.c_str(), F_OK) != 0 && ::access(aside.c_str(), F_OK) != 0) return 0;  // the usual case
    // Two importers at once (the milter starting, retentionctl) would rename over each
    // other's file aside: a lock file keeps imports one at a time.
    const std::string lock_path = path_ + ".lock";
    UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660));
    if (lock.get() < 0) throw IndexError("cannot open " + lock_path + ": " + errno_text(errno));
    ::fchmod(lock.get(), 0660);
    give_index_owner(lock.get(), lock_path, index_path_);
    if (::flock(lock.get(), LOCK_EX) != 0) throw IndexError("cannot lock " + lock_path + ": " + errno_text(errno));
    int imported = import_file(index, aside);  // left over by an import that was interrupted
    if (::rename(path_.c_str(), aside.c_str()) == 0) {
        sync_dir_or_throw(parent_dir(path_));
        imported += import_file(index, aside);
    } else if (errno != ENOENT) {
        throw IndexError("cannot move the pending journal " + path_ + " aside for import: " + errno_text(errno));
    }
    if (skipped_ > 0) {
        spdlog::warn("pending journal {}: skipped {} malformed line(s); they are kept in {}", path_, skipped_,
                     rejected_path());
    }
    return imported;
}

PendingJournal::DestroyResult PendingJournal::destroy_rejected_if(
    const std::function<bool(Date last_written)>& past_keeping) const {
    const std::string path = rejected_path();
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
    const auto written = std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtime));
    if (!past_keeping(utc_date(written))) return {};
    const std::string lock_path = path_ + ".lock";
    UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    if (lock && ::flock(lock.get(), LOCK_EX) != 0) lock.reset();
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return {Outcome::Failed, errno_text(errno)};
    // An import may have added lines between the look above and the lock: judged again.
    if (!past_keeping(utc_date(std::chrono::system_clock::time_point(std::chrono::seconds(st.st_mtime))))) return {};
    if (overwrite_with_zeros(fd.get(), st.st_size) != 0 || ::unlink(path.c_str()) != 0) {
        return {Outcome::Failed, errno_text(errno)};
    }
    return {Outcome::Destroyed, {}};
}

std::function<void(Index&)> pending_rows_importer(const IndexSection& c) {
    return [journal = PendingJournal(c)](Index& index) mutable {
        if (!journal.has_rows()) return;
        try {
            if (const int n = journal.import_into(index); n > 0)
                spdlog::info("imported {} rows from the pending journal {} now that the index answers", n,
                             journal.path());
        } catch (const std::exception& e) {
            spdlog::warn("the pending journal {} could not be imported yet: {}", journal.path(), e.what());
        }
    };
}

}  // namespace rm
