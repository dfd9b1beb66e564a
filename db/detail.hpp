// Private helpers of the db/ library: file-system chores (syncing folders, group and
// owner of the files the three programs share), and what both backends compute alike.
// Not part of the public interface; only db/*.cpp and the db unit tests include it.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fs.hpp"
#include "db/index.hpp"

namespace rm::dbdetail {

// --- files ----------------------------------------------------------------------------
// sync_dir() of a folder, throwing IndexError when it fails.
void sync_dir_or_throw(const std::string& dir);
// The group of `path`'s folder, for files that the three programs share.
bool folder_group(const std::string& path, gid_t& gid);
// Gives the open file the group of `path`'s folder. Not being root (EPERM) is fine: in a
// setgid folder the file already has that group.
void give_folder_group(int fd, const std::string& path);
// Gives a file just made beside the index (a lock, the pending journal, its rejected
// lines) to whoever must open it next. Run as root (retentionctl by an admin, a sweep by
// hand), the file gets the index's owner and group, or its folder's when there is no
// index yet: the milter and the sweeper never run as root, and a root-owned lock or
// journal would lock them out. Otherwise it gets the folder's group (EPERM is fine: a
// setgid folder gave it already). Throws IndexError when root cannot change the owner.
void give_index_owner(int fd, const std::string& file, const std::string& index_path);

// --- what both backends store alike ---------------------------------------------------
// The host column of the scan cache and files_seen: 16 bytes of SHA-256 of the host's
// name (or of [index] host_id), so that the index holds no host name.
std::string host_column(const std::string& host_id);
// A receipt's chain, in lower-case hex: SHA-256(the previous chain's 32 bytes, none when
// `previous_hex` is empty || the destroyed digests sorted bytewise, duplicates dropped).
std::string receipt_chain(const std::string& index_name, const std::string& previous_hex,
                          const std::vector<Digest>& destroyed_digests);

// --- holds, alike on both backends --------------------------------------------------------
inline constexpr std::string_view kHoldColumns = "id, reason, ref, placed_at, placed_by, released_at, released_by, kind";
inline constexpr const char* kNotInIndex = "no message with that Message-ID is in the index";
inline constexpr const char* kAlreadyDestroyed = "that message has already been destroyed; a hold cannot bring it back";
inline constexpr const char* kBeingDestroyed =
    "that message is being destroyed: retention-sweep claimed it, past its date, before this hold "
    "(a sweep stopped half-way leaves the claim until the next run finishes the destruction)";
// "that message is already on hold (REASON, placed by WHO); release it first ..."
std::string already_on_hold(const Hold& h);
// "that message is not on hold" (or has no admin / folder hold, when one kind was asked for).
std::string not_on_hold(std::optional<HoldKind> kind);
HoldKind hold_kind_from(std::string_view stored);

}  // namespace rm::dbdetail
