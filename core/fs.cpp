#include "core/fs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

namespace rm {

UniqueFd::~UniqueFd() { reset(); }

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
}

int UniqueFd::release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

UniqueFd open_dir_at(int dirfd, const std::string& name) {
    return UniqueFd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

UniqueFd open_file_at(int dirfd, const std::string& name, struct stat* st) {
    // O_NONBLOCK: a FIFO swapped in after the scan saw a regular file must not hang us.
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!fd) return fd;
    struct stat local {};
    struct stat* s = st ? st : &local;
    if (::fstat(fd.get(), s) != 0) return UniqueFd();
    if (!S_ISREG(s->st_mode)) {
        errno = EINVAL;
        return UniqueFd();
    }
    return fd;
}

int sync_dir(int dirfd) { return ::fsync(dirfd) == 0 ? 0 : errno; }

int sync_dir(const std::string& dir) {
    const UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return errno;
    return sync_dir(fd.get());
}

int overwrite_with_zeros(int fd, off_t size) {
    static const std::vector<char> zeros(1 << 16, 0);
    off_t done = 0;
    while (done < size) {
        const size_t want = static_cast<size_t>(std::min<off_t>(size - done, static_cast<off_t>(zeros.size())));
        const ssize_t n = ::pwrite(fd, zeros.data(), want, done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : EIO;
        done += n;
    }
    return ::fsync(fd) == 0 ? 0 : errno;
}

std::string parent_dir(const std::string& path) {
    std::string dir = std::filesystem::path(path).parent_path().string();
    return dir.empty() ? std::string(".") : dir;
}

std::string mode_text(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

bool has_glob(std::string_view path) { return path.find_first_of("*?[") != std::string_view::npos; }

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace rm
