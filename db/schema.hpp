// The index schema as a list of forward migrations. Step N (1-based) brings a database
// from PRAGMA user_version N-1 to N; open() applies the missing steps in order inside one
// transaction. Never edit a released step: add a new one.
//
// What is stored, and why nothing in it identifies a person:
//   messages  one row per message that passed the milter: the keyed digest of its
//             Message-ID (32 raw bytes of HMAC-SHA-256; NULL once erased), the keyed
//             digest of its stamped copies' record token (NULL when not stamped, or once
//             erased), the MTA queue id (NULL once erased), line tags, direction, policy,
//             dates, state, and whether a sweep has claimed it for destruction. No address,
//             subject, client IP, hostname or clear Message-ID: there is no column for them.
//   holds     safeguarding/legal holds by digest, with reason, case reference, who and when.
//   receipts  one per sweep: counts and a hash chain over destroyed digests, no digest itself.
//   meta      small settings the programs keep between runs.
//   scan_cache  the sweeper's memory of which file holds which message, so that a nightly
//             sweep reads only the files it has not seen before: a 16-byte key (the file's
//             inode number, then 8 bytes of a keyed hash of its device, inode, size, mtime
//             and ctime to the nanosecond; not its path or name), the digest read from it,
//             and the date it was read (since step 4: the Message-ID digest and the
//             record digest read from it, either may be NULL). The inode comes first so that the files of a folder,
//             read together, are written to neighbouring pages. Rows go a month after they
//             were added, and with their message's digest (digest_grace after it is
//             destroyed), so a digest never outlives its message's rows here either.
//   files_seen  the date a sweep first saw each file of a [[sweep.files]] folder, and last
//             saw it: a 16-byte key made as scan_cache's (the inode number, then 8 bytes of
//             a keyed hash of device, inode, size and mtime; never its path or name). Rows go
//             when their file is destroyed, or a month after a sweep last saw it.
//   Since step 6, scan_cache and files_seen are kept per host (a 16-byte hash of the host's
//             name or of [index] host_id, never the name): a device and inode name one file
//             on one host only, and an index may be shared.
// Dates ('YYYY-MM-DD', UTC calendar dates) are text, so they compare as strings. Times
// (placed_at, destroyed_at, erased_at, run_at...) are Unix seconds, UTC.
#pragma once

#include <array>
#include <string_view>

namespace rm::dbdetail {

inline constexpr std::array<std::string_view, 7> kMigrations = {
    // 1: messages, holds, receipts, meta.
    R"sql(
CREATE TABLE messages (
    id           INTEGER PRIMARY KEY,
    digest       BLOB CHECK (digest IS NULL OR length(digest) = 32),
    queue_id     TEXT,
    lines        TEXT NOT NULL,
    direction    TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
    policy       TEXT NOT NULL,
    passed_on    TEXT NOT NULL,
    retain_until TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'present' CHECK (state IN ('present', 'destroyed')),
    destroyed_at INTEGER,
    copies       INTEGER NOT NULL DEFAULT 0,
    erased_at    INTEGER
);
CREATE INDEX messages_digest ON messages (digest);
CREATE INDEX messages_state_date ON messages (state, retain_until);

CREATE TABLE holds (
    id          INTEGER PRIMARY KEY,
    digest      BLOB,
    reason      TEXT NOT NULL,
    ref         TEXT,
    placed_at   INTEGER NOT NULL,
    placed_by   TEXT NOT NULL,
    released_at INTEGER,
    released_by TEXT
);
CREATE INDEX holds_digest ON holds (digest);
-- At most one active hold per message.
CREATE UNIQUE INDEX holds_one_active ON holds (digest) WHERE released_at IS NULL;

CREATE TABLE receipts (
    id          INTEGER PRIMARY KEY,
    run_at      INTEGER NOT NULL,
    counts_json TEXT NOT NULL,
    destroyed   INTEGER NOT NULL,
    chain       TEXT NOT NULL,
    exit_code   INTEGER NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
)sql",
    // 2: rows imported from the pending journal carry the journal line's random token,
    // so importing the same journal twice (a crash between import and removal) adds
    // nothing twice.
    R"sql(
ALTER TABLE messages ADD COLUMN journal_token TEXT;
CREATE UNIQUE INDEX messages_journal_token ON messages (journal_token);
)sql",
    // 3: the sweeper's scan cache: reading every message's header every night was most of
    // a sweep's time.
    R"sql(
-- No other index: each would be one more tree a sweep writes at random places; its two
-- deletions (by age, by erased digest) read the table once per run instead.
CREATE TABLE scan_cache (
    file_key BLOB PRIMARY KEY CHECK (length(file_key) = 16),
    digest   BLOB NOT NULL CHECK (length(digest) = 32),
    added_on TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // 4: a stamped copy names its own row. `record` is the keyed digest of the random
    // token in the copy's X-Retention-Record header (erased with the digest), so that a
    // sender who reuses a Message-ID cannot tie one copy's fate to another message's.
    // `claimed_at`: a sweep is destroying the message; holds placed from then on are
    // refused instead of being silently outrun. The scan cache now remembers both keys
    // a file can match by; it is a cache, so it starts again empty.
    R"sql(
ALTER TABLE messages ADD COLUMN record BLOB CHECK (record IS NULL OR length(record) = 32);
CREATE INDEX messages_record ON messages (record) WHERE record IS NOT NULL;
ALTER TABLE messages ADD COLUMN claimed_at INTEGER;
DROP TABLE scan_cache;
CREATE TABLE scan_cache (
    file_key BLOB PRIMARY KEY CHECK (length(file_key) = 16),
    digest   BLOB CHECK (digest IS NULL OR length(digest) = 32),
    record   BLOB CHECK (record IS NULL OR length(record) = 32),
    added_on TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // 5: when a sweep first saw each [[sweep.files]] file, so that a letter copied in with
    // its old modification time kept is kept its full period from when it arrived.
    R"sql(
CREATE TABLE files_seen (
    file_key   BLOB PRIMARY KEY CHECK (length(file_key) = 16),
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // 6: a file's device and inode name it on one host only: on an index several hosts
    // share, the scan cache and files_seen are kept per host. The cache starts again
    // empty; files_seen keeps its dates (the migration gives its rows this host).
    R"sql(
DROP TABLE scan_cache;
CREATE TABLE scan_cache (
    host     BLOB NOT NULL,
    file_key BLOB NOT NULL CHECK (length(file_key) = 16),
    digest   BLOB CHECK (digest IS NULL OR length(digest) = 32),
    record   BLOB CHECK (record IS NULL OR length(record) = 32),
    added_on TEXT NOT NULL,
    PRIMARY KEY (host, file_key)
) WITHOUT ROWID;
ALTER TABLE files_seen RENAME TO files_seen_5;
CREATE TABLE files_seen (
    host       BLOB NOT NULL,
    file_key   BLOB NOT NULL CHECK (length(file_key) = 16),
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    PRIMARY KEY (host, file_key)
) WITHOUT ROWID;
INSERT INTO files_seen (host, file_key, first_seen, last_seen)
    SELECT X'', file_key, first_seen, last_seen FROM files_seen_5;
DROP TABLE files_seen_5;
)sql",
    // 7: staff hold a message by moving it into a hold folder. Such a hold names its folder,
    // not a person, and is released apart from an admin's: a message may have one of each.
    R"sql(
ALTER TABLE holds ADD COLUMN kind TEXT NOT NULL DEFAULT 'admin' CHECK (kind IN ('admin', 'folder'));
DROP INDEX holds_one_active;
CREATE UNIQUE INDEX holds_one_active ON holds (digest, kind) WHERE released_at IS NULL;
)sql",
};

inline constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

}  // namespace rm::dbdetail
