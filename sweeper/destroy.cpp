#include "sweeper/destroy.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/strings.hpp"
#include "sweeper/own_files.hpp"

namespace rm::sweep {

std::shared_ptr<UniqueFd> Dirs::open(size_t root, const std::string& rel) {
    for (const auto& e : cache_) {
        if (e.root == root && e.rel == rel) return e.fd;
    }
    const Root& r = plan_.roots.at(root);
    UniqueFd fd = open_dir_at(AT_FDCWD, r.path);
    if (!fd) return nullptr;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return nullptr;
    if (st.st_dev != r.dev || st.st_ino != r.ino) {
        errno = ESTALE;  // replaced since the scan: never act on a directory we did not read
        return nullptr;
    }
    if (!rel.empty()) {
        for (const auto& part : split(rel, '/')) {
            if (part.empty()) continue;
            UniqueFd next = open_dir_at(fd.get(), part);
            if (!next) return nullptr;
            fd = std::move(next);
        }
    }
    auto shared = std::make_shared<UniqueFd>(std::move(fd));
    if (cache_.size() >= 16) cache_.erase(cache_.begin());
    cache_.push_back({root, rel, shared});
    return shared;
}

namespace {

struct Renamed {
    std::shared_ptr<UniqueFd> dir;
    std::string marker;
    size_t root;
    std::string folder;
};

// The identity of a file as fstat on an open descriptor sees it, as the scan took it
// (LD_PRELOAD clock tools such as libfaketime alter some stat calls and not others).
bool stat_file(int dirfd, const std::string& name, struct stat& st) { return open_file_at(dirfd, name, &st).valid(); }

enum class Located { Here, Gone, NotAFile };

// Finds `f` where the scan saw it, or (a Maildir message) under its current name.
// Updates f.sub and f.name.
Located locate(Dirs& dirs, FileRef& f, std::shared_ptr<UniqueFd>& dir, struct stat& st) {
    if (stat_file(dir->get(), f.name, st)) return Located::Here;
    if (errno != ENOENT) return Located::NotAFile;  // a link or a FIFO now: not ours to touch
    if (!f.in_maildir()) return Located::Gone;
    const auto mn = parse_maildir_name(f.name);
    const auto folder = dirs.open(f.root, f.folder);
    if (!mn || !folder) return Located::Gone;
    const auto found = find_maildir_unique(folder->get(), mn->unique);
    if (!found) return Located::Gone;
    f.sub = found->sub;
    f.name = found->name;
    dir = dirs.open(f.root, f.dir());
    if (!dir) return Located::Gone;
    if (stat_file(dir->get(), f.name, st)) return Located::Here;
    return errno == ENOENT ? Located::Gone : Located::NotAFile;
}

// Renames to our marker without replacing anything that already has that name.
int rename_to_marker(int dirfd, const std::string& name, std::string& marker) {
    marker = marker_name(name);
    for (int attempt = 0; attempt < 10; ++attempt) {
        if (::renameat2(dirfd, name.c_str(), dirfd, marker.c_str(), RENAME_NOREPLACE) == 0) return 0;
        if (errno == EINVAL) {
            // A file system without RENAME_NOREPLACE: link + unlink never replaces either.
            if (::linkat(dirfd, name.c_str(), dirfd, marker.c_str(), 0) == 0) {
                if (::unlinkat(dirfd, name.c_str(), 0) == 0) return 0;
                const int err = errno;
                ::unlinkat(dirfd, marker.c_str(), 0);
                return err;
            }
        }
        if (errno != EEXIST) return errno;
        marker = marker_name(name + "." + std::to_string(attempt + 1));
    }
    return EEXIST;
}

// Opens a marker for writing; a read-only file of ours is made writable first.
UniqueFd open_for_overwrite(int dirfd, const std::string& name, const FileRef& expect) {
    const int flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    UniqueFd fd(::openat(dirfd, name.c_str(), flags));
    if (!fd && errno == EACCES) {
        UniqueFd ro(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
        struct stat st {};
        if (ro && ::fstat(ro.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == expect.ino &&
            ::fchmod(ro.get(), (st.st_mode & 07777) | S_IWUSR) == 0)
            fd.reset(::openat(dirfd, name.c_str(), flags));
    }
    return fd;
}

// The folder of `f` (updated to where the file is now), when `f` is still the file the
// scan read; otherwise null, with `out` saying why (vanished, or a skip).
std::shared_ptr<UniqueFd> open_unchanged(Dirs& dirs, FileRef& f, struct stat& st, DestroyOutcome& out) {
    auto dir = dirs.open(f.root, f.dir());
    if (!dir) {
        out.skips.push_back(errno == ENOENT ? Skip::Changed : Skip::CannotDestroy);
        return nullptr;
    }
    const Located where = locate(dirs, f, dir, st);
    if (where == Located::Gone) {
        ++out.vanished;
        return nullptr;
    }
    if (where == Located::NotAFile || !f.same_file(st)) {
        out.skips.push_back(Skip::Changed);
        return nullptr;
    }
    return dir;
}

// secure_delete = "unlink": nothing to overwrite, so each name is unlinked where it is.
// No marker is needed, since an unlink is all or nothing; a marker left by an earlier run
// in overwrite mode is just another name to unlink.
DestroyOutcome unlink_names(Dirs& dirs, std::vector<FileRef>& names, DirSyncs& syncs) {
    DestroyOutcome out;
    bool links_counted = false;
    for (FileRef& f : names) {
        struct stat st {};
        const auto dir = open_unchanged(dirs, f, st, out);
        if (!dir) continue;
        if (!links_counted) {
            links_counted = true;
            if (st.st_nlink > names.size()) out.skips.push_back(Skip::HardLink);  // a name outside what we swept
        }
        if (::unlinkat(dir->get(), f.name.c_str(), 0) == 0 || errno == ENOENT) {
            ++out.removed;
            out.folders.emplace_back(f.root, f.folder);
            syncs.add(dir);
        } else {
            out.skips.push_back(Skip::CannotDestroy);
        }
    }
    return out;
}

}  // namespace

void DirSyncs::add(const std::shared_ptr<UniqueFd>& dir) {
    if (std::find(dirs_.begin(), dirs_.end(), dir) == dirs_.end()) dirs_.push_back(dir);
}

void DirSyncs::sync_all() {
    for (const auto& d : dirs_) sync_dir(d->get());
    dirs_.clear();
}

DestroyOutcome destroy_file(Dirs& dirs, std::vector<FileRef> names, SecureDelete mode, DirSyncs* deferred) {
    if (mode == SecureDelete::Unlink) {
        DirSyncs now;
        DestroyOutcome out = unlink_names(dirs, names, deferred != nullptr ? *deferred : now);
        now.sync_all();
        return out;
    }
    DestroyOutcome out;
    std::vector<Renamed> renamed;
    const FileRef expect = names.front();
    for (FileRef& f : names) {
        struct stat st {};
        const auto dir = open_unchanged(dirs, f, st, out);
        if (!dir) continue;
        std::string marker = f.name;
        if (!has_marker_prefix(f.name)) {
            if (const int err = rename_to_marker(dir->get(), f.name, marker)) {
                if (err == ENOENT) ++out.vanished;
                else out.skips.push_back(Skip::CannotDestroy);
                continue;
            }
        }
        renamed.push_back({dir, marker, f.root, f.folder});
    }
    if (renamed.empty()) return out;

    UniqueFd fd = open_for_overwrite(renamed.front().dir->get(), renamed.front().marker, expect);
    struct stat st {};
    if (fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == expect.ino && st.st_dev == expect.dev) {
        if (st.st_nlink > renamed.size()) {
            out.skips.push_back(Skip::HardLink);  // another name outside what we swept
        } else if (mode == SecureDelete::Overwrite) {
            if (overwrite_with_zeros(fd.get(), st.st_size) == 0) out.overwritten = true;
            else out.skips.push_back(Skip::CannotOverwrite);
        }
    } else if (mode == SecureDelete::Overwrite) {
        out.skips.push_back(Skip::CannotOverwrite);
    }
    fd.reset();

    for (const auto& r : renamed) {
        if (::unlinkat(r.dir->get(), r.marker.c_str(), 0) == 0 || errno == ENOENT) {
            ++out.removed;
            out.folders.emplace_back(r.root, r.folder);
        } else {
            out.skips.push_back(Skip::CannotDestroy);  // the marker stays: the next run finishes it
        }
    }
    DirSyncs now;
    for (const auto& r : renamed) (deferred != nullptr ? *deferred : now).add(r.dir);
    now.sync_all();
    return out;
}

}  // namespace rm::sweep
