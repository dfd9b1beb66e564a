// Small read-only questions about files, users and groups that `check` asks.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "core/fs.hpp"

namespace rm::ctl {

std::optional<struct stat> stat_of(const std::string& path);  // follows links
std::string group_name(gid_t gid);                             // name, or the number
bool user_exists(const std::string& name);
bool group_exists(const std::string& name);
std::optional<uid_t> user_uid(const std::string& name);
std::optional<gid_t> group_gid(const std::string& name);
// Whether `user` has `gid` as its primary group or is listed as a member of it.
bool user_in_group(const std::string& user, gid_t gid);
// An executable found as given (with a '/') or in PATH and the usual sbin folders.
bool executable_found(const std::string& program);

}  // namespace rm::ctl
