// retention-milter: stamps and indexes helpline mail as it passes Postfix or Sendmail.
#include <libmilter/mfapi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <spdlog/spdlog.h>
#include <thread>

#include "core/cli.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "db/batch_writer.hpp"
#include "db/index.hpp"
#include "milter/callbacks.hpp"
#include "milter/daemon.hpp"
#include "milter/runtime.hpp"

namespace {

struct Options {
    std::string config = RM_DEFAULT_CONFIG;
    bool foreground = false;
    bool check_only = false;
};

// Binds the socket while still root, so a bad address fails now, not after daemonising.
void open_socket(const rm::Config& c) {
    rm::remove_stale_socket(c.milter.socket);
    if (smfi_setconn(const_cast<char*>(c.milter.socket.text.c_str())) != MI_SUCCESS)
        throw std::runtime_error("libmilter refused the socket " + c.milter.socket.text);
    smfiDesc desc = rm::milter_description();
    if (smfi_register(desc) != MI_SUCCESS) throw std::runtime_error("smfi_register failed");
    // libmilter drops a connection whose packet exceeds 64 KB, and Postfix sends each
    // header as one packet (header_size_limit is 100 KB): a long header would turn every
    // retry of that message into a temporary failure. Accept up to 1 MB.
    smfi_setmaxdatasize(1024 * 1024 - 1);
    // A unix socket is created with the tightest mode, then opened up to socket_mode.
    const mode_t old = ::umask(0177);
    const int rc = smfi_opensocket(false);
    ::umask(old);
    if (rc != MI_SUCCESS)
        throw std::runtime_error("cannot listen on " + c.milter.socket.text +
                                 " (address in use, or no permission to bind it?)");
    rm::finish_socket(c.milter);
}

// A key that is not the one this index was made with would record rows that no lookup
// could ever find: refuse to start rather than orphan them silently. `create` makes an
// index of this host's own (and its key) at the first start; an index several hosts share
// is made only by the admin's retentionctl upgrade-index.
rm::CheckedIndex open_checked(const rm::IndexSection& c) {
    try {
        // The MTA waits for the milter's answer only so long (Postfix: milter_content_timeout,
        // Sendmail: the R= timeout of the milter's X line, 10 seconds by default).
        const rm::Index::Options o{
            .create = true, .read_only = false, .busy_timeout_ms = 5000, .answer_timeout_ms = c.answer_timeout_s * 1000};
        return rm::open_index_checked(c, o, true);
    } catch (const rm::KeyMismatch& e) {
        throw std::runtime_error(std::string(e.what()) + "; " + rm::key_mismatch_remedy(c));
    }
}

std::unique_ptr<rm::Runtime> open_index(const std::shared_ptr<const rm::Config>& c) {
    rm::CheckedIndex opened = open_checked(c->index);
    auto& key = opened.key;
    auto& index = opened.index;
    index->remember_key(key);
    rm::PendingJournal journal(c->index);
    if (const int n = journal.import_into(*index); n > 0)
        spdlog::info("imported {} rows from the pending journal {}", n, journal.path());
    auto writer = std::make_unique<rm::BatchWriter>(std::move(index));
    return std::make_unique<rm::Runtime>(c, std::move(key), std::move(writer));
}

// libmilter returns from smfi_main on SIGTERM without waiting for its sessions; let the
// messages already past MAIL FROM finish, so their rows and answers are not lost.
void wait_for_in_flight() {
    for (int i = 0; i < 300 && rm::runtime().in_flight.load() > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

int run(const Options& o) {
    rm::block_signals();
    rm::setup_bootstrap_logging("retention-milter");
    std::shared_ptr<const rm::Config> config;
    try {
        config = std::make_shared<const rm::Config>(rm::load_config(o.config));
    } catch (const rm::ConfigError& e) {
        std::fprintf(stderr, "retention-milter: %s\n", e.what());
        return rm::kExitConfig;
    }
    if (o.check_only) {
        std::printf("%s: configuration OK\n", o.config.c_str());
        return rm::kExitOk;
    }
    try {
        if (::geteuid() == 0 && config->milter.user.empty())
            throw rm::ConfigError(o.config, 0, "milter.user",
                                  "is required when started as root: name the unprivileged user to run as");
        rm::setup_logging(config->log, "retention-milter", o.config);
    } catch (const rm::ConfigError& e) {
        std::fprintf(stderr, "retention-milter: %s\n", e.what());
        return rm::kExitConfig;
    }
    try {
        open_socket(*config);
        if (!o.foreground) rm::daemonise();
        rm::write_pid_file(config->milter.pid_file);
        rm::drop_privileges(config->milter.user);
        rm::install_runtime(open_index(config));
        rm::start_reload_thread(o.config);
        spdlog::info("listening on {} (version {})", config->milter.socket.text, RM_VERSION);
        const int rc = smfi_main();
        spdlog::info("stopping: waiting for messages in flight");
        wait_for_in_flight();
        rm::remove_own_socket(config->milter.socket);
        rm::remove_pid_file(config->milter.pid_file);
        spdlog::info("stopped");
        return rc == MI_SUCCESS ? rm::kExitOk : rm::kExitRuntime;
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        if (!o.foreground) std::fprintf(stderr, "retention-milter: %s\n", e.what());
        return rm::kExitRuntime;
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"retention-milter: records helpline mail in the retention index and stamps its retention date"};
    Options o;
    app.add_option("-c,--config", o.config, "config file")->capture_default_str();
    app.add_flag("-f,--foreground", o.foreground, "stay in the foreground (for systemd and tests)");
    app.add_flag("-n,--check", o.check_only, "check the config and exit");
    app.set_version_flag("-V,--version", RM_VERSION);
    if (const auto rc = rm::parse_command_line(app, argc, argv)) return *rc;
    return run(o);
}
