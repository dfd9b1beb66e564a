// The index's scan cache: which message a file held when an earlier run read it, so that
// a nightly run reads only what is new.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "db/index.hpp"
#include "sweeper/summary.hpp"

namespace rm::sweep {

// How the scan uses the scan cache. A file whose identity (device, inode, size, mtime and
// ctime to the nanosecond) is in the cache is not read again: its digest comes from there.
// The kernel sets ctime on every change to a file, its content, its name or its times
// (even `touch -d` sets it to now), so a file that matches is the file that was read;
// everything else about it (rows, dates, holds) is looked up afresh as for a file read.
struct ScanCache {
    bool look_up = true;          // false: read every file (retention-sweep --read-all)
    Index* learn_into = nullptr;  // where to remember what was read; nullptr: nowhere (dry runs)
    // A file changed less than this long before the scan is read, not remembered: file
    // times tick coarsely (a few ms on ext4), so a second change within the tick of the
    // first would leave ctime as it was (git's "racily clean" rule). By the system clock.
    std::chrono::seconds settle{2};
};
// How long a file stays known before it is read again.
inline constexpr std::chrono::days kScanCacheDays{31};

// What the scan cache knows a file by: its inode number, big-endian so that a folder's
// files (neighbours on ext4) sort together, then 8 bytes of its whole identity hashed
// with the key.
std::string scan_cache_key(const DigestKey& key, const struct stat& st);

// What one scan learns for the cache, written in batches between the scan's read
// transactions (never inside one). A failure to write is only a cost: the next run reads
// those files again.
class CacheWriter {
public:
    CacheWriter(Index* into, Date today, Summary& summary) : into_(into), today_(today), summary_(summary) {}
    bool enabled() const { return into_ != nullptr; }
    void add(std::string file_key, const Index::FileKeys& keys);
    void write();
    // The last write, and entries older than kScanCacheDays removed.
    void finish();

private:
    Index* into_;
    Date today_;
    Summary& summary_;
    std::vector<Index::KnownFile> learnt_;
};

// The scan's index lookups share a read transaction, renewed every few thousand so that
// the milter's WAL can still be checkpointed during a long scan. The plan needs no single
// snapshot: phase 2 acts only on files that are still what the scan read, and claims each
// batch of messages in the transaction that checks their holds. The cache writer writes
// between two of them.
class IndexReads {
public:
    IndexReads(const Index& index, CacheWriter& cache) : index_(index), cache_(cache) {}
    // `lookups`: how many look-ups the caller makes with it (a batch counts each of its keys).
    const Index& get(size_t lookups = 1);
    void end() { scope_.reset(); }

private:
    const Index& index_;
    CacheWriter& cache_;
    std::optional<Index::ReadScope> scope_;
    size_t lookups_ = 0;
    size_t next_renewal_ = 0;
};

}  // namespace rm::sweep
