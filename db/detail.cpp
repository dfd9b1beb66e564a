// The checks every stored row passes, and the file and byte chores of db/ (declared in
// db/detail.hpp).
#include "db/detail.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace rm {

namespace dbdetail {

namespace {
bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}
}  // namespace

std::optional<std::string> row_problem(const MessageRow& row) {
    if (row.digest.size() != 32) return "its digest is not 32 bytes";
    if (!row.record.empty() && row.record.size() != 32) return "its record digest is not 32 bytes";
    if (row.direction != "inbound" && row.direction != "outbound" && row.direction != "internal") {
        return "direction must be inbound, outbound or internal";
    }
    if (!row.passed_on.ok() || !row.retain_until.ok()) return "it has an invalid date";
    if (row.lines.empty() || row.policy.empty()) return "it has no line or no policy";
    if (has_control(row.lines) || has_control(row.policy) || has_control(row.queue_id)) {
        return "a field holds control characters";
    }
    return std::nullopt;
}


void sync_dir_or_throw(const std::string& dir) {
    if (const int err = sync_dir(dir); err != 0) throw IndexError("cannot sync folder " + dir + ": " + errno_text(err));
}

bool folder_group(const std::string& path, gid_t& gid) {
    struct stat st {};
    if (::stat(parent_dir(path).c_str(), &st) != 0) return false;
    gid = st.st_gid;
    return true;
}

void give_folder_group(int fd, const std::string& path) {
    gid_t gid = 0;
    if (!folder_group(path, gid)) return;
    if (::fchown(fd, static_cast<uid_t>(-1), gid) != 0 && errno != EPERM) {
        throw IndexError("cannot give " + path + " the group of its folder: " + errno_text(errno));
    }
}

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
        throw IndexError("the system's random number generator failed (OpenSSL RAND_bytes)");
    }
    return out;
}

void give_index_owner(int fd, const std::string& file, const std::string& index_path) {
    if (::geteuid() != 0) {
        dbdetail::give_folder_group(fd, file);
        return;
    }
    struct stat st {};
    if (::stat(index_path.c_str(), &st) != 0 && ::stat(parent_dir(index_path).c_str(), &st) != 0) {
        throw IndexError("cannot find the owner for " + file + ": neither the index " + index_path +
                         " nor its folder can be reached: " + errno_text(errno));
    }
    if (::fchown(fd, st.st_uid, st.st_gid) != 0) {
        throw IndexError("cannot give " + file + " the owner and group of the index " + index_path + ": " +
                         errno_text(errno));
    }
}

}  // namespace dbdetail
}  // namespace rm
