// The files a run names itself while it works, and how a later run knows them for its own.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "db/index.hpp"
#include "sweeper/sweep_plan.hpp"

namespace rm::sweep {

// ".retention-sweep.NAME" is a file a run has begun to destroy (renamed first, so a killed
// run leaves a name the next run recognises and finishes), and in a shared folder's tmp/ a
// copy it was writing for a move. Mail servers ignore names that start with a dot.
inline constexpr std::string_view kMarkerPrefix = ".retention-sweep.";
std::string marker_name(const std::string& name);
bool has_marker_prefix(std::string_view name);

// The files a run renames to a marker name or writes under one, recorded in the index
// before it does (and, for those a finished run could not remove, after it): a later run
// destroys a file of such a name only when it is one of these. Anything else so named (a
// user's ".retention-sweep.notes") is reported and left alone.
struct OwnFiles {
    std::set<std::pair<dev_t, ino_t>> inodes;  // a marker keeps the inode of the file renamed
    std::set<std::string> tmp_names;  // keyed hashes (hex) of the names of copies written in tmp/
    static std::string tmp_key(const DigestKey& key, std::string_view name);
    // Adds what a record made by to_json() holds (inside a JSON object, as its "own").
    void merge(const std::optional<std::string>& record);
    std::string to_json() const;
    bool empty() const { return inodes.empty() && tmp_names.empty(); }
    // Whether the marker-named file `name` (in `sub`, "tmp" for a move's copy) is one of these.
    bool owns(const struct stat& st, const std::string& sub, std::string_view name, const DigestKey& key) const;
};

// Every file a run may rename to a marker name, and the tmp/ names of its move copies:
// recorded before phase 2 acts, so that a killed run's leftovers are known for ours.
OwnFiles own_files_of(const Plan& plan, const DigestKey& key);
// The tmp/ name (keyed, as OwnFiles keeps it) of the copy written for a move.
std::string move_tmp_key(const MoveItem& m, const DigestKey& key);

// What phase 2 learns of marker-named files: those earlier runs recorded, those this run
// leaves behind, and those gone for good.
class Leftovers {
public:
    void carry(const std::optional<std::string>& record) { carried_.merge(record); }
    void left_behind(std::pair<dev_t, ino_t> inode) { left_.inodes.insert(inode); }
    void left_behind_move(const MoveItem& m, const DigestKey& key);
    void removed(std::pair<dev_t, ino_t> inode) { removed_.insert(inode); }
    // What a finished run hands on: the marker files it could not remove and, when it
    // skipped something (a folder it could not read may hold older ones), what earlier
    // runs recorded, less what is gone for good. A JSON record, or "" for none.
    std::string record(bool skipped) const;

private:
    OwnFiles carried_, left_;
    std::set<std::pair<dev_t, ino_t>> removed_;
};

}  // namespace rm::sweep
