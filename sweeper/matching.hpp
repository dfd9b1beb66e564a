// How a copy in a store is matched to index rows, and what the rows of one message say
// together. The scan and the move both read a copy's keys here, so they cannot disagree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/maildir.hpp"
#include "db/index.hpp"
#include "sweeper/store.hpp"

namespace rm::sweep {

// The header fields matching reads (read_header_fields keeps only these).
inline const std::vector<std::string_view> kMatchFields = {"Message-ID", "X-Retention-Record"};

HeaderFacts header_facts(const std::vector<HeaderField>& fields);

// What a copy is matched to index rows by: the keyed digest of its record token (the
// first well-formed X-Retention-Record header: a copy the milter stamped), and of the
// Message-ID it is indexed by (indexed_message_id over every Message-ID header, each read
// up to a NUL as libmilter reads it). Either may be empty.
Index::FileKeys match_keys(const HeaderFacts& facts, const DigestKey& key);

// The header of the open message file `fd`, read for matching. Throws std::system_error
// when the file cannot be read.
struct CopyHeader {
    HeaderBlock::Status status = HeaderBlock::Status::NoHeaders;
    std::string foreign;  // as HeaderBlock::foreign
    Index::FileKeys keys;
};
CopyHeader read_copy_header(int fd, const DigestKey& key);

// The Message-ID digest of the message file `name` in `dirfd`, empty when it has none or
// cannot be read.
Digest message_id_digest_at(int dirfd, const std::string& name, const DigestKey& key);

// The rows a copy without a record token of ours can be a copy of, among those that share
// its Message-ID. In a staff member's own folders: only mail the helpline sent (outbound or
// internal), which no outsider can make, so an outsider who reuses the Message-ID of a
// staff member's private mail cannot make that mail ours. Elsewhere: not inbound mail that
// was stamped (every copy of it delivered carries its token), unless nothing else is left
// (a copy that lost its header); so a sender reusing a reply's Message-ID cannot postpone
// the reply.
std::vector<MessageRow> rows_of_unstamped_copy(std::vector<MessageRow> rows, FolderRole role);

// What the index rows of one message say, merged.
struct RowFacts {
    std::vector<std::string> tags;  // every line, in config order, then lines no longer configured
    const MessageRow* latest = nullptr;  // the row with the latest retention date
    bool due = true;  // every row's date is on or before today
};
RowFacts facts_of(const std::vector<MessageRow>& rows, const Config& config, Date today);

}  // namespace rm::sweep
