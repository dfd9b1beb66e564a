#include <gtest/gtest.h>

#include "sweep_test_util.hpp"
#include "sweeper/scan_cache.hpp"

using namespace sweeptest;
using rm::sweep::CacheWriter;
using rm::sweep::IndexReads;

// The scan's read transaction is renewed every few thousand look-ups, writing what the
// scan cache learnt meanwhile: a batch of keys counts as that many look-ups, so a scan that
// asks in batches still lets the milter's WAL be checkpointed, and writes its cache as it
// goes instead of holding every file it read until the end.
TEST(IndexReads, ABatchCountsAsItsKeysTowardsRenewingTheReadTransaction) {
    World w;
    rm::sweep::Summary summary;
    CacheWriter cache(w.index.get(), date("2026-12-07"), summary);
    IndexReads reads(*w.index, cache);
    const std::string file(16, 'a');
    reads.get();
    cache.add(file, {std::string(32, 'd'), {}});
    reads.get(4000);
    EXPECT_FALSE(w.index->known_file(file)) << "written before the read transaction was renewed";
    reads.get(100);
    reads.get();
    EXPECT_TRUE(w.index->known_file(file)) << "not written when 4 101 look-ups had been made";
    reads.end();
}
