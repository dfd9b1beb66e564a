// The Maildir++ store: [[sweep.mailbox]] entries that name directories (a glob lists a
// staff domain's mailboxes), read and changed through directory descriptors only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/config.hpp"
#include "core/maildir.hpp"
#include "sweeper/destroy.hpp"
#include "sweeper/move.hpp"
#include "sweeper/store.hpp"

namespace rm::sweep {

class MaildirStore : public Store {
public:
    // `settle`: see ScanCache::settle; a file changed more recently is not remembered.
    MaildirStore(const Config& config, const DigestKey& key, std::chrono::seconds settle);

    void add_roots(Plan& plan, ScanSink& sink) override;
    void scan(Plan& plan, size_t r, ScanSink& sink) override;
    void scan_holds(Plan& plan, size_t r, ScanSink& sink) override;
    std::string sent_folder(const Plan& plan, size_t r) override;

    std::vector<DestroyOutcome> destroy(const Plan& plan, const std::vector<std::vector<FileRef>>& batch) override;
    std::vector<MoveOutcome> move(const Plan& plan, const std::vector<MoveItem>& batch) override;
    int ensure_folder(const Plan& plan, size_t r, const std::string& folder, bool& created) override;
    void report_residues(const Plan& plan, const std::set<std::pair<size_t, std::string>>& changed,
                         Summary& summary) override;
    void end_phase2() override;

private:
    struct Walk;  // one root being scanned
    struct Subdir;  // the cursor of one cur/ or new/ being listed

    const Config& config_;
    const DigestKey& key_;
    std::chrono::seconds settle_;
    std::int64_t settled_before_ns_ = 0;  // files whose ctime is earlier may be remembered
    std::set<std::pair<dev_t, ino_t>> scanned_roots_;
    // Phase 2: the directories of the plan and the destination folders, kept open.
    const Plan* acting_on_ = nullptr;
    std::unique_ptr<Dirs> dirs_;
    std::unique_ptr<Destinations> destinations_;

    void expand_glob(Plan& plan, size_t e, ScanSink& sink);
    void add_root(Plan& plan, size_t e, const std::string& path, const std::string& name);
    void walk_root(Walk& w, int rootfd);
    void scan_below_hold_folder(Walk& w, int rootfd, const MaildirLayout& lay, const std::string& dir);
    void scan_hold_folder(Walk& w, int rootfd, const std::string& dir);
    void scan_folder(Walk& w, int rootfd, const std::string& folder, FolderRole role);
    void scan_sub(Walk& w, int ffd, const std::string& folder, const std::string& sub, FolderRole role);
    void scan_tmp_for_our_leftovers(Walk& w, int ffd, const std::string& folder);
    void scan_entry(Walk& w, Subdir& at, const std::string& name, unsigned char type);
    void prefetch_known(Walk& w, const Subdir& at, const std::vector<std::pair<std::string, unsigned char>>& entries);
    bool read_known(Walk& w, FileRef& f, int dfd, const MaildirName& mn, FolderRole role);
    enum class Read { Done, Gone };
    Read read_message(Walk& w, FileRef f, int dfd, const MaildirName& mn, FolderRole role);
    void add_message(Walk& w, const FileRef& f, const MaildirName& mn, const struct stat& st, FolderRole role,
                     const Index::FileKeys& keys);
    void leftover(Walk& w, int dfd, const std::string& folder, const std::string& sub, const std::string& name);
    Dirs& dirs(const Plan& plan);
};

// The folder of a shared mailbox that receives moved Sent copies: the first of its
// sent_folders that exists, else the first of them (to be created).
std::string sent_folder_of(int rootfd, const SweepMailbox& entry);

}  // namespace rm::sweep
