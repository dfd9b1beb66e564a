#include "ctl/fs_facts.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/strings.hpp"

namespace rm::ctl {

std::optional<struct stat> stat_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return st;
}

std::string group_name(gid_t gid) {
    if (const group* g = ::getgrgid(gid)) return g->gr_name;
    return std::to_string(gid);
}

bool user_exists(const std::string& name) { return ::getpwnam(name.c_str()) != nullptr; }

bool group_exists(const std::string& name) { return ::getgrnam(name.c_str()) != nullptr; }

std::optional<uid_t> user_uid(const std::string& name) {
    if (const passwd* pw = ::getpwnam(name.c_str())) return pw->pw_uid;
    return std::nullopt;
}

std::optional<gid_t> group_gid(const std::string& name) {
    if (const group* g = ::getgrnam(name.c_str())) return g->gr_gid;
    return std::nullopt;
}

bool user_in_group(const std::string& user, gid_t gid) {
    const passwd* pw = ::getpwnam(user.c_str());
    if (pw == nullptr) return false;
    if (pw->pw_gid == gid) return true;
    const group* g = ::getgrgid(gid);
    if (g == nullptr) return false;
    for (char** m = g->gr_mem; *m != nullptr; ++m) {
        if (user == *m) return true;
    }
    return false;
}

bool executable_found(const std::string& program) {
    if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
    const char* env = std::getenv("PATH");
    std::string dirs = env ? env : "";
    // Timers and sudo often run with a PATH lacking sbin, where doveadm lives.
    dirs += ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const auto& dir : split(dirs, ':')) {
        if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    }
    return false;
}

}  // namespace rm::ctl
