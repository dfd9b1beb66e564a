// The pending journal used when on_index_error = "accept": rows the milter could not
// write to the index, appended (and synced) to a file and imported later. The journal
// owns its file names: the journal itself ([index] pending_journal), and beside it
// ".importing" (a journal being imported), ".lock" (one importer at a time) and
// ".rejected" (lines no import could read, kept for the admin).
#pragma once

#include <functional>
#include <string>

#include "core/config.hpp"
#include "core/period.hpp"
#include "db/index.hpp"

namespace rm {

class PendingJournal {
public:
    // The journal the config names; files made by root get the index's owner.
    explicit PendingJournal(const IndexSection& c);
    // The default journal of the index at `index_path`: "<index_path>.pending".
    explicit PendingJournal(const std::string& index_path);
    const std::string& path() const { return path_; }
    // Appends one row and fsyncs the file. Throws IndexError when that fails.
    void append(const MessageRow& row);
    // Whether rows wait to be imported (in the journal, or in one whose import was cut short).
    bool has_rows() const;
    // Moves every journalled row into the index in one transaction, then empties the
    // journal. Returns how many were imported. Safe to call when there is no journal.
    int import_into(Index& index);
    // How many malformed lines the last import_into() skipped. They are logged, and kept
    // in rejected_path() for the admin rather than dropped.
    int skipped() const { return skipped_; }
    std::string rejected_path() const { return path_ + ".rejected"; }

    // The rejected lines may hold digests: once `past_keeping(the date they were last
    // written)` says nothing in them may be kept any more, they are destroyed like a
    // message (overwritten, synced, unlinked), under the importers' lock.
    enum class Outcome { Kept, Destroyed, Failed };
    struct DestroyResult {
        Outcome outcome = Outcome::Kept;
        std::string error;  // when Failed
    };
    DestroyResult destroy_rejected_if(const std::function<bool(Date last_written)>& past_keeping) const;

private:
    PendingJournal(std::string path, std::string index_path);
    int import_file(Index& index, const std::string& file);
    std::string index_path_;
    std::string path_;
    int skipped_ = 0;
};

// Work for BatchWriter::after_commits: imports the journal `c` names when rows wait in it,
// and logs what it imported or why it could not yet.
std::function<void(Index&)> pending_rows_importer(const IndexSection& c);

}  // namespace rm
