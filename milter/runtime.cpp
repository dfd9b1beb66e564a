#include "milter/runtime.hpp"

#include <spdlog/spdlog.h>

namespace rm {

namespace {
std::unique_ptr<Runtime> g_runtime;
}

Runtime& runtime() { return *g_runtime; }
void install_runtime(std::unique_ptr<Runtime> r) { g_runtime = std::move(r); }

Runtime::Runtime(std::shared_ptr<const Config> config, DigestKey key, std::unique_ptr<BatchWriter> writer,
                 std::chrono::steady_clock::duration journal_retry)
    : config_(std::move(config)), key_(std::move(key)), writer_(std::move(writer)), journal_(config_->index) {
    take_in_journal_when_the_index_answers(journal_retry);
}

// Rows journalled while the index failed would otherwise wait for the milter's next start
// (on a shared PostgreSQL index the sweeper may not add rows): once a row commits again,
// the writer takes the journal in, trying again at most once per `every` while it fails.
void Runtime::take_in_journal_when_the_index_answers(std::chrono::steady_clock::duration every) {
    writer_->after_commits(pending_rows_importer(config_->index), every);
}

std::shared_ptr<const Config> Runtime::config() const {
    std::lock_guard lock(mu_);
    return config_;
}

bool Runtime::reload(const std::string& path) {
    try {
        auto fresh = std::make_shared<const Config>(load_config(path));
        const auto old = config();
        // These are fixed at start: the socket is bound, privileges dropped, the index open.
        if (fresh->milter.socket.text != old->milter.socket.text || fresh->milter.user != old->milter.user ||
            fresh->index.path != old->index.path || fresh->index.key_file != old->index.key_file ||
            fresh->index.backend != old->index.backend || fresh->index.conninfo != old->index.conninfo) {
            spdlog::warn("reload: changes to milter.socket, milter.user, index.backend, index.path, "
                         "index.conninfo or index.key_file take effect only after a restart");
        }
        std::lock_guard lock(mu_);
        config_ = std::move(fresh);
        spdlog::info("reload: configuration reloaded from {}", path);
        return true;
    } catch (const std::exception& e) {
        spdlog::error("reload failed, keeping the previous configuration: {}", e.what());
        return false;
    }
}

bool Runtime::record(const MessageRow& row, OnIndexError on_error, const std::string& queue_id) {
    try {
        writer_->commit(row);
        return true;
    } catch (const std::exception& e) {
        spdlog::error("{}: cannot write the index: {}", queue_id, e.what());
    }
    if (on_error == OnIndexError::Tempfail) return false;
    try {
        journal_.append(row);
        spdlog::warn("{}: row written to the pending journal {} (on_index_error = accept)", queue_id,
                     journal_.path());
        return true;
    } catch (const std::exception& e) {
        spdlog::error("{}: cannot write the pending journal either: {}", queue_id, e.what());
        return false;
    }
}

}  // namespace rm
