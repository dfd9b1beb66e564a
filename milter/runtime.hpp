// The milter's process-wide state: the current config (swapped on SIGUSR1), the index
// writer, the pending journal and the digest key. Callbacks reach it through runtime().
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/config.hpp"
#include "db/batch_writer.hpp"
#include "db/index.hpp"
#include "db/journal.hpp"

namespace rm {

class Runtime {
public:
    // `journal_retry`: how often, at most, rows left in the pending journal are tried again.
    Runtime(std::shared_ptr<const Config> config, DigestKey key, std::unique_ptr<BatchWriter> writer,
            std::chrono::steady_clock::duration journal_retry = std::chrono::seconds(30));

    // The config a new connection should use. A connection keeps its snapshot until it
    // closes, so a reload never changes the rules in the middle of a message.
    std::shared_ptr<const Config> config() const;
    // Reads the config file again. On any error keeps the current one and says why.
    bool reload(const std::string& path);

    const DigestKey& key() const { return key_; }

    // Records a row durably: in the index, or (on_index_error = accept) in the pending
    // journal. Returns false when neither worked: the message must be refused for now.
    bool record(const MessageRow& row, OnIndexError on_error, const std::string& queue_id);

    // Transactions between MAIL FROM and end-of-message, so a stop can let them finish.
    std::atomic<int> in_flight{0};

private:
    void take_in_journal_when_the_index_answers(std::chrono::steady_clock::duration every);
    mutable std::mutex mu_;
    std::shared_ptr<const Config> config_;
    DigestKey key_;
    std::unique_ptr<BatchWriter> writer_;
    PendingJournal journal_;
};

Runtime& runtime();
void install_runtime(std::unique_ptr<Runtime> r);

}  // namespace rm
