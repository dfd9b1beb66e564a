// Group commit for the milter: many threads hand rows to one writer thread, which
// commits whatever has queued up in a single transaction (one sync for the lot) and
// then wakes every waiting thread. Each caller returns only once its row is durable.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
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

    // Work that needs the index the rows go to, run by the writer thread after a batch
    // that committed, at most once per `every`: the milter takes in its pending journal
    // once the index answers again, rather than at its next start. The task handles its
    // own errors; anything it throws is dropped.
    void after_commits(std::function<void(Index&)> task, std::chrono::steady_clock::duration every);

private:
    struct Job;
    void run();
    // Fulfils every job of the batch with its own row's outcome.
    // Both return whether any row of theirs was committed.
    bool commit_batch(std::vector<Job*>& jobs);
    bool commit_one(Job& job);
    bool commit_each(std::vector<Job*>& jobs);
    void run_task_if_due();

    std::unique_ptr<Index> index_;
    std::size_t max_batch_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job*> queue_;
    bool stopping_ = false;
    std::function<void(Index&)> task_;  // after_commits(), guarded by mu_
    std::chrono::steady_clock::duration task_every_{};
    std::chrono::steady_clock::time_point task_last_{};  // the writer thread's own
    std::thread thread_;
};

}  // namespace rm
