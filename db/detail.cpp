// The file chores of db/ (declared in db/detail.hpp).
#include "db/detail.hpp"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "core/strings.hpp"

namespace rm {

namespace dbdetail {

namespace {

std::string sha256(const std::string& bytes) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> out{};
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), out.data());
    return std::string(reinterpret_cast<const char*>(out.data()), out.size());
}

}  // namespace

std::string host_column(const std::string& host_id) {
    std::string name = host_id;
    if (name.empty()) {
        char buf[256] = {};
        if (::gethostname(buf, sizeof buf - 1) != 0) throw IndexError("cannot read this host's name: " + errno_text(errno));
        name = buf;
    }
    const std::string material = std::string("retention-milter host v1", 24) + '\0' + name;
    return sha256(material).substr(0, 16);
}

std::string receipt_chain(const std::string& index_name, const std::string& previous_hex,
                          const std::vector<Digest>& destroyed_digests) {
    std::vector<Digest> sorted = destroyed_digests;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    std::string material;
    if (!previous_hex.empty()) {
        auto chain = from_hex(previous_hex);
        if (!chain) throw IndexError("index " + index_name + ": the last receipt's chain is not hex");
        material = std::move(*chain);
    }
    for (const Digest& d : sorted) material += d;
    return to_hex(sha256(material));
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

std::string already_on_hold(const Hold& h) {
    return "that message is already on hold (" + h.reason + ", placed by " + h.placed_by +
           "); release it first to change the hold";
}

std::string not_on_hold(std::optional<HoldKind> kind) {
    if (!kind) return "that message is not on hold";
    return "that message has no " + std::string(hold_kind_name(*kind)) + " hold in force";
}

HoldKind hold_kind_from(std::string_view stored) { return stored == "folder" ? HoldKind::Folder : HoldKind::Admin; }

}  // namespace dbdetail
}  // namespace rm
