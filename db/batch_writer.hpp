// Group commit for the milter: many threads hand rows to one writer thread, which
// commits whatever has queued up in a single transaction (one sync for the lot) and
// then wakes every waiting thread. Each caller returns only once its row is durable.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "db/index.hpp"

namespace rm {

class BatchWriter {
public:
    explicit BatchWriter(std::unique_ptr<Index> index, std::size_t max_batch = 256);
    ~BatchWriter();  // finishes the queued work, then stops the thread
    BatchWriter(const BatchWriter&) = delete;
    BatchWriter& operator=(const BatchWriter&) = delete;

    // Blocks until the row is committed and synced; returns its id. Throws IndexError
    // when its transaction failed (then the row is not in the index).
    std::int64_t commit(const MessageRow& row);

private:
    struct Job;
    void run();
    // Fulfils every job of the batch with its own row's outcome.
    void commit_batch(std::vector<Job*>& jobs);
    void commit_one(Job& job);

    std::unique_ptr<Index> index_;
    std::size_t max_batch_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job*> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace rm
