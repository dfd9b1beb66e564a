// File descriptors and the small file-system chores every program shares: opening below a
// directory without following links, syncing a folder, naming a mode, a path's folder.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <string>
#include <string_view>

namespace rm {

// An owned file descriptor, closed when it goes out of scope.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd();
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    explicit operator bool() const { return valid(); }
    int release();
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

// Opens the directory `name` below `dirfd` (AT_FDCWD: relative to the working folder, or
// an absolute path) read-only, never following a symbolic link in the last component.
// Returns an invalid fd with errno set on failure (ELOOP or ENOTDIR for a link).
UniqueFd open_dir_at(int dirfd, const std::string& name);

// Opens a regular file below `dirfd` for reading without following a link, without
// blocking on a FIFO put there in a race, and checks that it is a regular file.
// Returns an invalid fd with errno set on failure (EINVAL when it is not a regular file).
UniqueFd open_file_at(int dirfd, const std::string& name, struct stat* st);

// fsync of a directory, so a new, renamed or removed entry in it survives a crash.
// Returns 0 or errno.
int sync_dir(int dirfd);
int sync_dir(const std::string& dir);

// Overwrites the first `size` bytes of the open file with zeros and syncs it, so that
// what it held is gone from the disk blocks before the name goes. Returns 0 or errno.
int overwrite_with_zeros(int fd, off_t size);

// The folder of `path`: "/a/b" -> "/a", "b" -> ".", "/a" -> "/".
std::string parent_dir(const std::string& path);

// The permission bits as chmod takes them: "0640", "2770".
std::string mode_text(mode_t mode);

// Whether a configured path is a glob(3) pattern rather than one path.
bool has_glob(std::string_view path);

// strerror() as a std::string.
std::string errno_text(int err);

}  // namespace rm
