#include "sweeper/scan_cache.hpp"

#include <array>
#include <cstdint>

namespace rm::sweep {

std::string scan_cache_key(const DigestKey& key, const struct stat& st) {
    const std::array<std::int64_t, 7> parts = {
        static_cast<std::int64_t>(st.st_dev),  static_cast<std::int64_t>(st.st_ino),
        static_cast<std::int64_t>(st.st_size), st.st_mtim.tv_sec,
        st.st_mtim.tv_nsec,                     st.st_ctim.tv_sec,
        st.st_ctim.tv_nsec};
    std::string out(8, '\0');
    auto ino = static_cast<std::uint64_t>(st.st_ino);
    for (int i = 7; i >= 0; --i, ino >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(ino & 0xff);
    out += key.file_hash(std::string_view(reinterpret_cast<const char*>(parts.data()), sizeof parts)).substr(0, 8);
    return out;
}

// A copy with a legacy key is read again each run rather than cached without it (such
// ids are rare: bytes that are not UTF-8).
void CacheWriter::add(std::string file_key, const Index::FileKeys& keys) {
    if (into_ && keys.legacy.empty()) learnt_.push_back({std::move(file_key), keys});
}

void CacheWriter::write() {
    if (into_ && !learnt_.empty()) {
        try {
            into_->remember_files(learnt_, today_);
        } catch (const IndexError& e) {
            summary_.warn(std::string("the scan cache could not be written, so the next run reads every file again: ") +
                          e.what());
            into_ = nullptr;
        }
    }
    learnt_.clear();
}

void CacheWriter::finish() {
    write();
    if (!into_) return;
    try {
        into_->forget_files_before(Date(std::chrono::sys_days(today_) - kScanCacheDays));
    } catch (const IndexError& e) {
        summary_.warn(std::string("old entries of the scan cache could not be removed: ") + e.what());
    }
}

const Index& IndexReads::get(size_t lookups) {
    if (lookups_ >= next_renewal_) {
        next_renewal_ = lookups_ + 4096;
        scope_.reset();
        cache_.write();
        scope_.emplace(index_);
    }
    lookups_ += lookups;
    return index_;
}

}  // namespace rm::sweep
