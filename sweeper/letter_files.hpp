// [[sweep.files]]: folders of letter-response files (scans of letters, replies written
// offline), kept their policy's period from the day each file came into the folder. They
// are files, not messages: no index rows, no holds, no matching, so they are walked here
// rather than through a Store.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "db/index.hpp"
#include "sweeper/scan_cache.hpp"
#include "sweeper/store.hpp"
#include "sweeper/summary.hpp"
#include "sweeper/sweep_plan.hpp"

namespace rm::sweep {

// What the index knows a [[sweep.files]] file by (files_seen): its inode, then 8 bytes of
// a keyed hash of its device, inode, size and mtime, as the scan saw them.
std::string files_seen_key(const DigestKey& key, const FileRef& f);
// How long a file no sweep has seen stays in files_seen.
inline constexpr std::chrono::days kFilesSeenDays{31};
// Meta key: the date of the first sweep that noted files in files_seen. A file first seen
// then was there before the sweep kept count: its first sighting says nothing of its arrival.
inline constexpr const char* kMetaFilesSeenSince = "sweep.files_seen_since";

// Phase 1 over every [[sweep.files]] entry: a root per entry, the files past their date
// planned for destruction, and the files seen noted in the index (a real run only).
class LetterFiles {
public:
    // `writable`: the index when this run may write it (not a dry run).
    LetterFiles(const Config& config, const DigestKey& key, Date today, Summary& summary, IndexReads& reads,
                Index* writable);
    void scan(Plan& plan, ScanSink& sink);
    // After the scan, outside its read transactions.
    void note_files_seen();

private:
    const Config& config_;
    const DigestKey& key_;
    Date today_;
    Summary& summary_;
    IndexReads& reads_;
    Index* writable_;
    std::optional<Date> files_seen_since_;
    std::vector<std::string> files_seen_;  // keys of the files seen

    struct Walk;
    void scan_entry(Plan& plan, ScanSink& sink, const SweepFiles& entry);
    void walk(Walk& w, int dirfd, const std::string& rel, int depth);
    void entry(Walk& w, int dirfd, const std::string& rel, const std::string& name, int depth);
    void file(Walk& w, int dirfd, const std::string& rel, const std::string& name, const std::string& child);
    std::optional<Date> arrival_of(const FileRef& f, int fd);
    void warn_about_open_files();
};

}  // namespace rm::sweep
