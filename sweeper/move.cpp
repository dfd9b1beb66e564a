#include "sweeper/move.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <system_error>
#include <utility>

#include "core/headers.hpp"
#include "core/maildir.hpp"
#include "core/message_id_key.hpp"
#include "sweeper/matching.hpp"
#include "sweeper/own_files.hpp"

namespace rm::sweep {

std::string without_our_headers(std::string_view raw) {
    std::string out;
    bool dropping = false;
    size_t pos = 0;
    while (pos < raw.size()) {
        auto nl = raw.find('\n', pos);
        nl = nl == std::string_view::npos ? raw.size() : nl + 1;
        const std::string_view line = raw.substr(pos, nl - pos);
        pos = nl;
        const bool continuation = line.front() == ' ' || line.front() == '\t';
        if (!continuation) {
            const auto colon = line.find(':');
            dropping = colon != std::string_view::npos && our_header_slot(line.substr(0, colon)).has_value();
        }
        if (!dropping) out += line;
    }
    return out;
}

std::string our_header_lines(const std::array<std::string, 4>& values, bool crlf) {
    std::string out;
    for (size_t slot = 0; slot < kOurHeaders.size(); ++slot) {
        out += kOurHeaders[slot];
        out += ": ";
        out += values[slot];
        out += crlf ? "\r\n" : "\n";
    }
    return out;
}

int ensure_maildir_folder(int rootfd, const std::string& folder, bool& created) {
    created = false;
    mode_t mode = 0700;
    struct stat st {};
    // "Like its siblings": the delivery agent made the mailbox's own cur/.
    if (::fstatat(rootfd, "cur", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) mode = st.st_mode & 07777;
    if (::mkdirat(rootfd, folder.c_str(), mode) == 0) created = true;
    else if (errno != EEXIST) return errno;
    const UniqueFd fd = open_dir_at(rootfd, folder);
    if (!fd) return errno;
    if (created) ::fchmod(fd.get(), mode);  // mkdir's mode passed through the umask
    for (const char* sub : {"cur", "new", "tmp"}) {
        if (::mkdirat(fd.get(), sub, mode) == 0) {
            const UniqueFd s = open_dir_at(fd.get(), sub);
            if (s) ::fchmod(s.get(), mode);
        } else if (errno != EEXIST) {
            return errno;
        }
    }
    const mode_t file_mode = mode & 0666;
    const int marker = ::openat(fd.get(), "maildirfolder", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, file_mode);
    if (marker < 0) return errno;
    ::close(marker);
    sync_dir(fd.get());
    sync_dir(rootfd);
    return 0;
}

namespace {

using Result = MoveOutcome::Result;

int write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : EIO;
        bytes.remove_prefix(static_cast<size_t>(n));
    }
    return 0;
}

// Our own file in tmp/ (a failed or killed move's), destroyed like any other copy.
void destroy_leftover(int tmpfd, const std::string& name) {
    const UniqueFd fd(::openat(tmpfd, name.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    struct stat st {};
    if (fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1)
        overwrite_with_zeros(fd.get(), st.st_size);
    ::unlinkat(tmpfd, name.c_str(), 0);
}

// The sizes Dovecot puts in a name: the file's, and with every bare LF counted as CRLF.
struct Sizes {
    std::uint64_t size = 0;
    std::uint64_t vsize = 0;
    char last = 0;
    void add(std::string_view bytes) {
        for (const char c : bytes) {
            if (c == '\n' && last != '\r') ++vsize;
            last = c;
        }
        size += bytes.size();
        vsize += bytes.size();
    }
};

// Copies `from` (from `offset` to its end) after `prefix` into a new file `name` in
// `tmpfd`, and syncs it. Our own leftover of that name (a killed run's) is replaced.
int write_copy(int tmpfd, const std::string& name, mode_t mode, std::string_view prefix, int from, off_t offset,
               Sizes& sizes) {
    int fd = ::openat(tmpfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST) {
        destroy_leftover(tmpfd, name);
        fd = ::openat(tmpfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    }
    if (fd < 0) return errno;
    const UniqueFd out(fd);
    if (const int err = write_all(fd, prefix)) return err;
    sizes.add(prefix);
    char buf[65536];
    while (true) {
        const ssize_t n = ::pread(from, buf, sizeof buf, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno;
        if (n == 0) break;
        const std::string_view chunk(buf, static_cast<size_t>(n));
        if (const int err = write_all(fd, chunk)) return err;
        sizes.add(chunk);
        offset += n;
    }
    return ::fsync(fd) == 0 ? 0 : errno;
}

}  // namespace

std::string name_with_sizes(std::string_view name, std::uint64_t size, std::uint64_t vsize) {
    const auto colon = name.find(':');
    const std::string_view unique = name.substr(0, colon);
    const std::string_view info = colon == std::string_view::npos ? std::string_view() : name.substr(colon);
    std::string out;
    size_t pos = 0;
    while (pos <= unique.size()) {
        auto comma = unique.find(',', pos);
        if (comma == std::string_view::npos) comma = unique.size();
        const std::string_view field = unique.substr(pos, comma - pos);
        if (pos > 0) out += ',';
        if (pos > 0 && field.substr(0, 2) == "S=") out += "S=" + std::to_string(size);
        else if (pos > 0 && field.substr(0, 2) == "W=") out += "W=" + std::to_string(vsize);
        else out += field;
        pos = comma + 1;
    }
    return out + std::string(info);
}

namespace {

// Puts tmp/NAME in place as SUB/NAME, never over an existing file.
int publish(int tmpfd, const std::string& tmp_name, int subfd, const std::string& name) {
    if (::renameat2(tmpfd, tmp_name.c_str(), subfd, name.c_str(), RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL) return errno;
    if (::linkat(tmpfd, tmp_name.c_str(), subfd, name.c_str(), 0) != 0) return errno;
    ::unlinkat(tmpfd, tmp_name.c_str(), 0);
    return 0;
}

struct Source {
    FileRef ref;
    UniqueFd fd;
    struct stat st {};
    HeaderBlock header;
    MaildirName name;
};

// A moved copy is written as our headers, its header block without ours, then its body:
// the whole block is read, however large (the MTAs limit each header, not the block; a
// message as large as Postfix's default message_size_limit fits well inside this).
constexpr size_t kMoveHeaderCap = 64 * 1024 * 1024;

// Opens the source where it is now and reads its header block.
std::optional<Result> open_source(Dirs& dirs, Source& src) {
    auto folder = dirs.open(src.ref.root, src.ref.folder);
    if (!folder) return Result::Failed;
    auto dir = dirs.open(src.ref.root, src.ref.dir());
    if (!dir) return Result::Failed;
    src.fd = open_file_at(dir->get(), src.ref.name, &src.st);
    if (!src.fd && errno == ENOENT) {
        const auto found = find_maildir_unique(folder->get(), src.name.unique);
        if (!found) return Result::Vanished;
        src.ref.sub = found->sub;
        src.ref.name = found->name;
        dir = dirs.open(src.ref.root, src.ref.dir());
        if (!dir) return Result::Failed;
        src.fd = open_file_at(dir->get(), src.ref.name, &src.st);
    }
    if (!src.fd) return errno == ENOENT ? Result::Vanished : Result::Failed;
    if (!src.ref.same_file(src.st)) return Result::Failed;
    try {
        src.header = read_header_block(src.fd.get(), kMoveHeaderCap);
    } catch (const std::system_error&) {
        return Result::Failed;
    }
    if (src.header.status != HeaderBlock::Status::Ok) return Result::Failed;
    if (auto n = parse_maildir_name(src.ref.name)) src.name = *n;
    return std::nullopt;
}

}  // namespace

Destinations::Folder& Destinations::prepare(Dirs& dirs, size_t root, const std::string& folder) {
    const auto [it, fresh] = folders_.try_emplace({root, folder});
    Folder& f = it->second;
    if (!fresh) return f;
    const auto errno_or_enoent = [] { return errno != 0 ? errno : ENOENT; };
    std::shared_ptr<UniqueFd> fd;
    if (const auto rootfd = dirs.open(root, ""); !rootfd) f.error = errno_or_enoent();
    else f.error = ensure_maildir_folder(rootfd->get(), folder, f.created);
    if (f.error == 0 && !(fd = dirs.open(root, folder))) f.error = errno_or_enoent();
    if (f.error != 0) {
        spdlog::error("cannot make or open the folder \"{}\" of a shared mailbox for moved Sent copies: {}",
                      folder, std::strerror(f.error));
        return f;
    }
    f.bases = MaildirBases::list(fd->get());
    return f;
}

namespace {

// Writes the copy with our headers in tmp/ under our marker name and publishes it under
// the source's name (sizes updated); a copy that could not be finished is destroyed.
bool write_stamped_copy(const Source& src, const MoveItem& item, int tmpfd, int subfd) {
    const std::string tmp_name = marker_name(src.name.unique);
    const std::string prefix = our_header_lines(item.headers, src.header.crlf) + without_our_headers(src.header.raw);
    const mode_t file_mode = (src.st.st_mode & 0660) | 0600;
    Sizes sizes;
    if (write_copy(tmpfd, tmp_name, file_mode, prefix, src.fd.get(), static_cast<off_t>(src.header.raw.size()),
                   sizes) != 0 ||
        publish(tmpfd, tmp_name, subfd, name_with_sizes(src.ref.name, sizes.size, sizes.vsize)) != 0) {
        destroy_leftover(tmpfd, tmp_name);
        return false;
    }
    sync_dir(subfd);
    return true;
}

}  // namespace

MoveOutcome move_copy(Dirs& dirs, Destinations& dests, const MoveItem& item, const DigestKey& key,
                      SecureDelete mode) {
    MoveOutcome out;
    Source src;
    src.ref = item.source;
    const auto parsed = parse_maildir_name(item.source.name);
    if (!parsed) return out;
    src.name = *parsed;
    if (auto r = open_source(dirs, src)) {
        out.result = *r;
        if (*r == Result::Failed) out.skip = Skip::MoveFailed;
        return out;
    }

    Destinations::Folder& dest = dests.prepare(dirs, item.dest_root, item.dest_folder);
    out.created_folder = std::exchange(dest.created, false);  // reported once
    if (dest.error) {
        out.skip = Skip::NoDestination;
        return out;
    }
    const auto folder = dirs.open(item.dest_root, item.dest_folder);
    const std::string sub = src.ref.sub == "new" ? "new" : "cur";
    const auto subdir = dirs.open(item.dest_root, item.dest_folder + "/" + sub);
    const auto tmpdir = dirs.open(item.dest_root, item.dest_folder + "/tmp");
    if (!folder || !subdir || !tmpdir) {
        out.skip = Skip::NoDestination;
        return out;
    }

    // Already there (a run killed after the rename, or a second copy of one message): the
    // source only has to go. The listing says whether to look; the folder says where.
    const std::string base(maildir_base(src.name.unique));
    const bool maybe_there = !dest.bases || dest.bases->may_hold(base);
    const auto there = maybe_there ? find_maildir_unique(folder->get(), src.name.unique) : std::nullopt;
    if (there) {
        const auto there_dir = dirs.open(item.dest_root, item.dest_folder + "/" + there->sub);
        if (!there_dir || message_id_digest_at(there_dir->get(), there->name, key) != item.digest) {
            out.skip = Skip::NameTaken;
            return out;
        }
        out.result = Result::AlreadyThere;
    } else {
        if (!write_stamped_copy(src, item, tmpdir->get(), subdir->get())) {
            out.skip = Skip::MoveFailed;
            return out;
        }
        if (dest.bases) dest.bases->add(base);
        out.result = Result::Moved;
    }
    src.fd.reset();
    out.source = destroy_file(dirs, {src.ref}, mode);
    return out;
}

}  // namespace rm::sweep
