// Group commit: see db/batch_writer.hpp.
#include "db/batch_writer.hpp"

#include <future>
#include <stdexcept>
#include <string>
#include <vector>


namespace rm {

// What the writer thread tells one caller: the row's id, or why it was refused. A value,
// not an exception_ptr: an exception object shared between the writer and the caller is
// freed by whichever thread drops it last, through reference counting inside libstdc++,
// where ThreadSanitizer cannot see the ordering (CI reported it as a race). The caller
// throws its own IndexError from the text instead.
struct Outcome {
    std::int64_t id = 0;
    std::string error;  // empty when the row is committed
};

// One waiting commit(). The caller keeps only the future; the job (a copy of the row and
// the promise) belongs to the writer thread from the moment it is queued, so nothing the
// writer touches can vanish when a woken caller returns.
struct BatchWriter::Job {
    MessageRow row;
    std::promise<Outcome> result;

    void succeed(std::int64_t id) { result.set_value(Outcome{id, {}}); }
    void fail(const std::exception& e) { result.set_value(Outcome{0, e.what()}); }
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
    std::future<Outcome> done = job->result.get_future();
    {
        std::lock_guard lock(mu_);
        if (stopping_) throw IndexError("index " + index_->path() + ": the writer is shutting down");
        queue_.push_back(job.get());
        job.release();  // the writer thread deletes it
    }
    cv_.notify_one();
    Outcome outcome = done.get();
    if (!outcome.error.empty()) throw IndexError(outcome.error);
    return outcome.id;
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
        const bool committed = commit_batch(batch);
        for (Job* j : batch) delete j;
        batch.clear();
        if (committed) run_task_if_due();
    }
}

void BatchWriter::after_commits(std::function<void(Index&)> task, std::chrono::steady_clock::duration every) {
    std::lock_guard lock(mu_);
    task_ = std::move(task);
    task_every_ = every;
}

void BatchWriter::run_task_if_due() {
    std::function<void(Index&)> task;
    {
        std::lock_guard lock(mu_);
        const auto now = std::chrono::steady_clock::now();
        if (!task_ || (task_last_ != std::chrono::steady_clock::time_point{} && now - task_last_ < task_every_)) return;
        task_last_ = now;
        task = task_;
    }
    try {
        task(*index_);
    } catch (...) {
        // The task reports its own failures; the rows it could not take stay where they were.
    }
}

bool BatchWriter::commit_one(Job& job) {
    try {
        job.succeed(index_->insert({job.row}).at(0));
        return true;
    } catch (const std::exception& e) {
        job.fail(e);
    } catch (...) {
        job.fail(IndexError("index " + index_->path() + ": the row's transaction failed"));
    }
    return false;
}

// A batch that fails because of one of its rows is retried row by row, so that one bad
// row does not fail the others. A failure of the index itself (locked past the busy
// timeout, disk full, I/O error, the file replaced) is not: every row would wait and fail
// the same way.
bool BatchWriter::commit_batch(std::vector<Job*>& jobs) {
    if (jobs.size() == 1) return commit_one(*jobs.front());
    std::vector<MessageRow> rows;
    rows.reserve(jobs.size());
    for (const Job* j : jobs) rows.push_back(j->row);
    std::vector<std::int64_t> ids;
    try {
        ids = index_->insert(rows);
    } catch (const IndexError& e) {
        if (e.index_wide()) {
            for (Job* j : jobs) j->fail(e);
            return false;
        }
        return commit_each(jobs);
    } catch (...) {
        return commit_each(jobs);
    }
    for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i]->succeed(ids[i]);
    return true;
}

bool BatchWriter::commit_each(std::vector<Job*>& jobs) {
    bool any = false;
    for (Job* j : jobs) any = commit_one(*j) || any;
    return any;
}

}  // namespace rm
