// The file chores of db/ (declared in db/detail.hpp).
#include "db/detail.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace rm {

namespace dbdetail {



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
