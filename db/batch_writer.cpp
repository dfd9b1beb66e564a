// Group commit: see db/batch_writer.hpp.
#include "db/batch_writer.hpp"

#include <future>
#include <stdexcept>
#include <vector>

#include "db/detail.hpp"

namespace rm {

// One waiting commit(). The caller keeps only the future; the job (a copy of the row and
// the promise) belongs to the writer thread from the moment it is queued, so nothing the
// writer touches can vanish when a woken caller returns.
struct BatchWriter::Job {
    MessageRow row;
    std::promise<std::int64_t> result;
};

BatchWriter::BatchWriter(std::unique_ptr<Index> index, std::size_t max_batch)
    : index_(std::move(index)), max_batch_(max_batch == 0 ? 1 : max_batch) {
    if (!index_) throw std::invalid_argument("BatchWriter needs an index");
    thread_ = std::thread([this] { run(); });
}

BatchWriter::~BatchWriter() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

std::int64_t BatchWriter::commit(const MessageRow& row) {
    auto job = std::make_unique<Job>(Job{row, {}});
    std::future<std::int64_t> done = job->result.get_future();
    {
        std::lock_guard lock(mu_);
        if (stopping_) throw IndexError("index " + index_->path() + ": the writer is shutting down");
        queue_.push_back(job.get());
        job.release();  // the writer thread deletes it
    }
    cv_.notify_one();
    return done.get();  // rethrows the row's IndexError
}

void BatchWriter::run() {
    std::vector<Job*> batch;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything queued is done
            while (!queue_.empty() && batch.size() < max_batch_) {
                batch.push_back(queue_.front());
                queue_.pop_front();
            }
        }
        commit_batch(batch);
        for (Job* j : batch) delete j;
        batch.clear();
    }
}

void BatchWriter::commit_one(Job& job) {
    try {
        const std::int64_t id = index_->insert({job.row}).at(0);
        job.result.set_value(id);
    } catch (...) {
        job.result.set_exception(std::current_exception());
    }
}

// A batch that fails because of one of its rows is retried row by row, so that one bad
// row does not fail the others. A failure of the index itself (locked past the busy
// timeout, disk full, I/O error) is not: every row would wait and fail the same way.
void BatchWriter::commit_batch(std::vector<Job*>& jobs) {
    if (jobs.size() == 1) return commit_one(*jobs.front());
    std::vector<MessageRow> rows;
    rows.reserve(jobs.size());
    for (const Job* j : jobs) rows.push_back(j->row);
    std::vector<std::int64_t> ids;
    try {
        ids = index_->insert(rows);
    } catch (const dbdetail::SqliteError& e) {
        if (e.index_wide()) {
            // A copy each: callers in several threads must not share one exception object.
            for (Job* j : jobs) j->result.set_exception(std::make_exception_ptr(e));
            return;
        }
        for (Job* j : jobs) commit_one(*j);
        return;
    } catch (...) {
        for (Job* j : jobs) commit_one(*j);
        return;
    }
    for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i]->result.set_value(ids[i]);
}

}  // namespace rm
