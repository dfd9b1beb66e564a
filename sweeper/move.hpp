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
#include <optional>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "db/index.hpp"
#include "sweeper/destroy.hpp"
#include "sweeper/plan.hpp"

namespace rm::sweep {

struct MoveOutcome {
    enum class Result { Moved, AlreadyThere, Vanished, Failed };
    Result result = Result::Failed;
    std::optional<Skip> skip;
    bool created_folder = false;
    DestroyOutcome source;  // the source's destruction (Moved, AlreadyThere)
};

MoveOutcome move_copy(Dirs& dirs, const MoveItem& item, const DigestKey& key, SecureDelete mode);

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
