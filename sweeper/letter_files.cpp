#include "sweeper/letter_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>

#include "core/maildir.hpp"
#include "sweeper/own_files.hpp"

namespace rm::sweep {

std::string files_seen_key(const DigestKey& key, const FileRef& f) {
    const std::array<std::int64_t, 5> parts = {static_cast<std::int64_t>(f.dev), static_cast<std::int64_t>(f.ino),
                                               static_cast<std::int64_t>(f.size), f.mtime.tv_sec, f.mtime.tv_nsec};
    std::string identity("files_seen", 10);
    identity.push_back('\0');
    identity.append(reinterpret_cast<const char*>(parts.data()), sizeof parts);
    std::string out(8, '\0');
    auto ino = static_cast<std::uint64_t>(f.ino);
    for (int i = 7; i >= 0; --i, ino >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(ino & 0xff);
    return out + key.file_hash(identity).substr(0, 8);
}

namespace {

// The file's birth time, where the file system records one.
std::optional<std::int64_t> birth_time(int fd) {
    struct statx sx {};
    if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BTIME, &sx) != 0) return std::nullopt;
    if (!(sx.stx_mask & STATX_BTIME)) return std::nullopt;
    return sx.stx_btime.tv_sec;
}

}  // namespace

// One [[sweep.files]] entry being walked.
struct LetterFiles::Walk {
    Plan& plan;
    ScanSink& sink;
    size_t r;
    const std::string& policy;
    std::string path(const std::string& rel) const { return path_of(plan, r, rel); }
};

LetterFiles::LetterFiles(const Config& config, const DigestKey& key, Date today, Summary& summary, IndexReads& reads,
                         Index* writable)
    : config_(config), key_(key), today_(today), summary_(summary), reads_(reads), writable_(writable) {}

void LetterFiles::scan(Plan& plan, ScanSink& sink) {
    if (const auto since = reads_.get().get_meta(kMetaFilesSeenSince)) files_seen_since_ = parse_date(*since);
    for (const auto& f : config_.sweep.files) scan_entry(plan, sink, f);
    warn_about_open_files();
}

void LetterFiles::scan_entry(Plan& plan, ScanSink& sink, const SweepFiles& entry) {
    Root root;
    root.path = entry.path;
    root.is_files = true;
    root.line.clear();
    plan.roots.push_back(root);
    const size_t r = plan.roots.size() - 1;
    summary_.files[entry.policy];
    const UniqueFd fd = open_dir_at(AT_FDCWD, entry.path);
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) return summary_.skip(Skip::FilesFolderMissing, {}, entry.path);
    plan.roots[r].dev = st.st_dev;
    plan.roots[r].ino = st.st_ino;
    plan.roots[r].usable = true;
    Walk w{plan, sink, r, entry.policy};
    walk(w, fd.get(), "", 0);
}

void LetterFiles::walk(Walk& w, int dirfd, const std::string& rel, int depth) {
    struct stat dst {};
    // The policy asks for folders only helpline staff can open: others must have no access.
    if (::fstat(dirfd, &dst) == 0 && (dst.st_mode & S_IRWXO)) {
        ++summary_.others_access_folders;
        summary_.listed("warning", w.path(rel), "folder open to others (mode " + mode_text(dst.st_mode) + ")");
    }
    const int err = for_each_entry(dirfd, [&](const std::string& name) { entry(w, dirfd, rel, name, depth); });
    if (err) summary_.skip(Skip::FilesFolderMissing, {}, w.path(rel));
}

void LetterFiles::entry(Walk& w, int dirfd, const std::string& rel, const std::string& name, int depth) {
    const std::string child = rel.empty() ? name : rel + "/" + name;
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;  // gone meanwhile
    if (S_ISDIR(st.st_mode)) {
        if (depth >= 64) return summary_.skip(Skip::TooDeep, {}, w.path(child));
        const UniqueFd sub = open_dir_at(dirfd, name);
        if (!sub) return summary_.skip(Skip::FilesFolderMissing, {}, w.path(child));
        return walk(w, sub.get(), child, depth + 1);
    }
    if (S_ISLNK(st.st_mode)) return summary_.skip(Skip::Symlink, {}, w.path(child));
    if (!S_ISREG(st.st_mode)) return summary_.skip(Skip::NotRegular, {}, w.path(child));
    if (has_marker_prefix(name)) {
        if (open_file_at(dirfd, name, &st)) w.sink.leftover(w.r, rel, "", name, st);
        return;
    }
    file(w, dirfd, rel, name, child);
}

void LetterFiles::file(Walk& w, int dirfd, const std::string& rel, const std::string& name, const std::string& child) {
    // Identity and times as fstat on the open file gives them, as phase 2 checks them.
    struct stat st {};
    const UniqueFd fd = open_file_at(dirfd, name, &st);
    if (!fd) {
        if (errno != ENOENT) summary_.skip(Skip::Unreadable, {}, w.path(child));
        return;
    }
    if (st.st_mode & S_IRWXO) {
        ++summary_.others_access_files;
        summary_.listed("warning", w.path(child), "file open to others (mode " + mode_text(st.st_mode) + ")");
    }
    FileRef f{w.r, rel, "", name};
    f.take(st);
    const auto arrived = arrival_of(f, fd.get());
    const Period& period = config_.policies.at(w.policy).retain;
    if (arrived && add_period(*arrived, period) <= today_) {
        summary_.listed("destroy", w.path(child));
        w.plan.destroys.push_back({std::move(f), DestroyKind::File, {}, {}, w.policy});
    } else {
        ++summary_.files[w.policy].kept;
    }
}

// When a letter file came into the folder: the latest of its modification time, its
// birth time and the day a sweep first saw it. A copy made with its old mtime kept
// (cp -p, rsync -t, a file share) is then kept its full period from its arrival.
std::optional<Date> LetterFiles::arrival_of(const FileRef& f, int fd) {
    auto arrived = date_of_seconds(f.mtime.tv_sec);
    if (!arrived) return std::nullopt;
    if (const auto born = birth_time(fd)) {
        if (const auto d = date_of_seconds(*born)) arrived = std::max(*arrived, *d);
    }
    const std::string key = files_seen_key(key_, f);
    files_seen_.push_back(key);
    const Date first = reads_.get().file_first_seen(key).value_or(today_);
    // Files first seen by the first sweep that counted were there before it did.
    if (files_seen_since_ && first > *files_seen_since_) arrived = std::max(*arrived, first);
    return arrived;
}

void LetterFiles::note_files_seen() {
    if (!writable_ || files_seen_.empty()) return;
    try {
        if (!files_seen_since_) writable_->set_meta(kMetaFilesSeenSince, format_date(today_));
        writable_->note_files_seen(files_seen_, today_);
        writable_->forget_files_seen_before(Date(std::chrono::sys_days(today_) - kFilesSeenDays));
    } catch (const IndexError& e) {
        // The next run sees these files as new arrivals: kept longer, never shorter.
        summary_.warn(std::string("could not note the [[sweep.files]] files seen: ") + e.what());
    }
}

void LetterFiles::warn_about_open_files() {
    if (summary_.others_access_folders == 0 && summary_.others_access_files == 0) return;
    summary_.warn(std::to_string(summary_.others_access_folders) + " [[sweep.files]] folder(s) and " +
                  std::to_string(summary_.others_access_files) +
                  " file(s) there are open to others than their owner and group; the policy keeps letter copies "
                  "for helpline staff only (chmod -R o-rwx; --list names them)");
}

}  // namespace rm::sweep
