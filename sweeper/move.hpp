// Moving a personal Sent copy of a helpline message into its line's shared mailbox, as
// the policy asks staff to do by hand.
//
// The copy is written in the destination folder's tmp/ with our four headers at its top
// (any copies of them already in it removed), synced, and renamed into cur/ (or new/)
// under the source's own name, so its base and its ":2,FLAGS" stay (only Dovecot's size
// fields change with the added headers); the folder is synced; only then is the source
// destroyed like any other file. A run killed in between leaves either a leftover in tmp/
// (named by us, destroyed by the next run) or the copy in both places, and the next run,
// finding a message of the same base name and digest at the destination, just destroys
// the source.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/config.hpp"
#include "core/maildir.hpp"
#include "db/index.hpp"
#include "sweeper/destroy.hpp"
#include "sweeper/outcomes.hpp"
#include "sweeper/sweep_plan.hpp"

namespace rm::sweep {

// The folders one run moves copies into, each made (when missing) and listed once: a first
// run over a backlog moves thousands of copies into one Sent folder, and reading the folder
// again for each copy (to find one a killed run left there) would make that run quadratic.
// The listing is of the names there when the run first moved a copy in, plus those it has
// moved in since. Only one sweep runs at a time, so a killed run's copy is always in it.
// What it can miss: a copy staff make by hand during the run under the source's own base
// name (Dovecot with maildir_copy_preserve_filename = yes); the price is one duplicate
// copy, which goes on the same date as the other (both carry the Message-ID).
class Destinations {
public:
    struct Folder {
        int error = 0;          // errno from making it; nothing is moved there when set
        bool created = false;   // by this run, and not reported yet
        // The messages there; nothing when the folder could not be listed, and then each
        // copy looks in the folder itself (find_maildir_unique).
        std::optional<MaildirBases> bases;
    };
    Folder& prepare(Dirs& dirs, size_t root, const std::string& folder);

private:
    std::map<std::pair<size_t, std::string>, Folder> folders_;
};

MoveOutcome move_copy(Dirs& dirs, Destinations& dests, const MoveItem& item, const DigestKey& key,
                      SecureDelete mode);

// The header block without any of our four headers (folded lines included), every other
// byte kept as it was.
std::string without_our_headers(std::string_view raw);

// `name` with Dovecot's size fields (",S=" the file's size, ",W=" its size with CRLF line
// ends) set to the moved copy's: Dovecot refuses to read a file whose size disagrees with
// its name. Names without them are kept as they are; the base and ":2,FLAGS" never change.
std::string name_with_sizes(std::string_view name, std::uint64_t size, std::uint64_t vsize);

// Our four headers, in kOurHeaders order, with the given line ending.
std::string our_header_lines(const std::array<std::string, 4>& values, bool crlf);

// Makes ".Folder" with cur/, new/, tmp/ and a maildirfolder file, as Dovecot reads a
// Maildir++ folder, with the mode of the mailbox's own cur/. Existing parts are kept.
// Returns 0 or errno; `created` says whether the folder was new.
int ensure_maildir_folder(int rootfd, const std::string& folder, bool& created);

}  // namespace rm::sweep
