// Phase 2's basic act: destroying one file securely, by directory descriptors only.
//
// Order, so that a run killed at any instant leaves nothing the next run does not finish
// (with secure_delete = "unlink" there is nothing to overwrite: each name is unlinked,
// then its folder synced):
//   1. every name of the file that the scan found is renamed to ".retention-sweep.NAME"
//      in its own folder (mail servers ignore dot files; the next run finishes any such
//      name it meets, whatever is left of its content);
//   2. when every link to the file is one of those names, its contents are overwritten
//      with zeros (unless secure_delete = "unlink") and synced; when some link lives
//      elsewhere, overwriting would reach content outside the configured roots, so the
//      names are only removed and the run reports a skip;
//   3. the names are unlinked and each folder is synced (at once, or later for many files).
// The caller marks index rows destroyed only after every copy's folder has been synced.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/maildir.hpp"
#include "sweeper/outcomes.hpp"
#include "sweeper/sweep_plan.hpp"

namespace rm::sweep {

// Directories below the roots of a plan, opened without following links from a root
// that is still the directory the scan read (same device and inode). Keeps a few open.
class Dirs {
public:
    explicit Dirs(const Plan& plan) : plan_(plan) {}
    // Null with errno set on failure (ESTALE: the root is no longer the scanned directory).
    std::shared_ptr<UniqueFd> open(size_t root, const std::string& rel);

private:
    const Plan& plan_;
    struct Entry {
        size_t root;
        std::string rel;
        std::shared_ptr<UniqueFd> fd;
    };
    std::vector<Entry> cache_;
};

// Folders whose entries changed and are not synced yet. Syncing a folder once for many
// unlinks is what keeps a sweep near the cost of `find -delete`; the caller marks rows
// destroyed only after sync_all() has returned.
class DirSyncs {
public:
    void add(const std::shared_ptr<UniqueFd>& dir);
    size_t size() const { return dirs_.size(); }
    void sync_all();

private:
    std::vector<std::shared_ptr<UniqueFd>> dirs_;
};

// Destroys the file whose names the scan found as `names` (all the same inode). A name
// that is no longer the file the scan read (FileRef::same_file) is left alone. The folders
// are synced before it returns, or, with `deferred`, added to it for the caller to sync.
DestroyOutcome destroy_file(Dirs& dirs, std::vector<FileRef> names, SecureDelete mode,
                            DirSyncs* deferred = nullptr);


}  // namespace rm::sweep
