// The PostgreSQL index when its server stops answering or loses a commit's answer: the
// milter's writes give up within their deadline, reconnect by themselves, and never write
// a message's row twice.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "db/pg.hpp"
#include "db/pg_index.hpp"
#include "index_rows_test_util.hpp"
#include "pg_test_util.hpp"

namespace rm {
namespace {

using namespace rm::test;
using Clock = std::chrono::steady_clock;

// A server process stopped as if its host froze; it runs again when the test ends, or
// after `limit` so that a write that waits for ever fails the test instead of hanging it.
class FrozenBackend {
public:
    FrozenBackend(int pid, std::chrono::seconds limit) : pid_(pid) {
        ::kill(pid_, SIGSTOP);
        watchdog_ = std::thread([this, limit] {
            const auto until = Clock::now() + limit;
            while (!thawed_ && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
            thaw();
        });
    }
    ~FrozenBackend() {
        thaw();
        watchdog_.join();
    }
    FrozenBackend(const FrozenBackend&) = delete;
    FrozenBackend& operator=(const FrozenBackend&) = delete;
    void thaw() {
        if (!thawed_.exchange(true)) ::kill(pid_, SIGCONT);
    }

private:
    int pid_;
    std::atomic<bool> thawed_{false};
    std::thread watchdog_;
};

// The test server's socket as seen through a folder of the test's own, so that the
// server can seem to go away (no socket: a server that is down or restarting) or to
// hang (a socket that takes connections and never answers: a server frozen mid-start,
// a host that vanished) for one client while the other tests go on using it.
class SocketDoor {
public:
    SocketDoor() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "rm-pg-door-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("cannot make a temporary folder");
        dir_ = tmpl;
        open();
    }
    ~SocketDoor() {
        if (listener_ >= 0) ::close(listener_);
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    SocketDoor(const SocketDoor&) = delete;
    SocketDoor& operator=(const SocketDoor&) = delete;

    std::string conninfo(const PgDatabase& db) const {
        return "host=" + dir_.string() + " port=" + std::to_string(port()) + " user=postgres dbname=" + db.name();
    }
    // New connections reach the server.
    void open() {
        close();
        std::filesystem::create_symlink(pgdetail::cluster().dir() / socket_name(), path());
    }
    // New connections are refused, as by a server that is down.
    void close() {
        if (listener_ >= 0) ::close(listener_);
        listener_ = -1;
        std::error_code ec;
        std::filesystem::remove(path(), ec);
    }
    // New connections are taken and never answered.
    void hang() {
        close();
        listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path().c_str(), sizeof a.sun_path - 1);
        if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(listener_, 64) != 0)
            throw std::runtime_error("cannot listen on " + path().string());
    }

private:
    static int port() { return pgdetail::cluster().port(); }
    static std::string socket_name() { return ".s.PGSQL." + std::to_string(port()); }
    std::filesystem::path path() const { return dir_ / socket_name(); }

    std::filesystem::path dir_;
    int listener_ = -1;
};

class PgFailure : public ::testing::Test {
protected:
    void SetUp() override { PgIndex(db_.conninfo(), {.create = true, .upgrade = true}); }
    void TearDown() override { dbdetail::pg_commit_sent_hook = nullptr; }

    std::int64_t rows_in_index() {
        auto c = pgdetail::connect(db_.conninfo());
        return pg_count(c.get(), "SELECT count(*) FROM messages");
    }

    // How long index.insert() of one row took to fail (the test fails when it succeeds).
    static Clock::duration failing_insert(PgIndex& index, std::string& err) {
        const auto start = Clock::now();
        try {
            index.insert({make_row(dig(2), d(2026, 1, 2), d(2026, 7, 2))});
            ADD_FAILURE() << "the insert succeeded without a server";
        } catch (const IndexError& e) {
            err = e.what();
            EXPECT_TRUE(e.index_wide()) << err;
        }
        return Clock::now() - start;
    }

    // Cuts the index's connection as a server restart does.
    void cut(PgIndex& index) {
        auto admin = pgdetail::connect(db_.conninfo());
        pgdetail::exec(admin.get(), "SELECT pg_terminate_backend(" + std::to_string(PQbackendPID(index.handle())) + ")");
    }

    PgDatabase db_;
    SocketDoor door_;
};

TEST_F(PgFailure, AWriteGivesUpWithinItsDeadlineAndTheNextOneReconnects) {
    PgIndex index(db_.conninfo(), {.answer_timeout_ms = 2000});
    index.insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    std::string err;
    Clock::duration took{};
    {
        FrozenBackend frozen(PQbackendPID(index.handle()), std::chrono::seconds(15));
        const auto start = Clock::now();
        try {
            index.insert({make_row(dig(2), d(2026, 1, 2), d(2026, 7, 2))});
        } catch (const IndexError& e) {
            err = e.what();
            EXPECT_TRUE(e.index_wide());
        }
        took = Clock::now() - start;
    }
    EXPECT_NE(err.find("did not answer within 2 seconds"), std::string::npos) << err;
    EXPECT_GE(took, std::chrono::milliseconds(1900));
    EXPECT_LT(took, std::chrono::milliseconds(3500)) << "the write waited past its deadline";

    const auto ids = index.insert({make_row(dig(3), d(2026, 1, 3), d(2026, 7, 3))});
    ASSERT_EQ(ids.size(), 1U);
    EXPECT_EQ(index.rows_for(dig(3)).size(), 1U);
    EXPECT_TRUE(index.rows_for(dig(2)).empty()) << "the write that gave up left no row";
    EXPECT_EQ(rows_in_index(), 2);
}

// The MTA waits for the milter's answer no longer than its milter timeout, which
// answer_timeout stays below: reconnecting and waiting for a restarting server must fit
// in that one deadline too, not take it again for each attempt.
TEST_F(PgFailure, AWriteToAServerThatTakesConnectionsAndNeverAnswersGivesUpWithinItsDeadline) {
    PgIndex index(door_.conninfo(db_), {.answer_timeout_ms = 1000});
    index.insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    cut(index);
    door_.hang();
    std::string err;
    const auto took = failing_insert(index, err);
    EXPECT_LT(took, std::chrono::milliseconds(1100)) << "the write waited past its deadline: " << err;
    EXPECT_NE(err.find("did not answer within 1 second"), std::string::npos) << err;

    door_.open();
    ASSERT_EQ(index.insert({make_row(dig(3), d(2026, 1, 3), d(2026, 7, 3))}).size(), 1U);
    EXPECT_EQ(rows_in_index(), 2) << "the write that gave up left no row, the next one reconnected";
}

TEST_F(PgFailure, AWriteToAServerThatIsDownTriesAgainUntilItsDeadlineAndNoLonger) {
    PgIndex index(door_.conninfo(db_), {.answer_timeout_ms = 1000});
    index.insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    cut(index);
    door_.close();
    std::string err;
    const auto took = failing_insert(index, err);
    EXPECT_GE(took, std::chrono::milliseconds(900)) << "the write did not wait for a restarting server: " << err;
    EXPECT_LT(took, std::chrono::milliseconds(1100)) << "the write waited past its deadline: " << err;
}

// A server back within the deadline takes the row.
TEST_F(PgFailure, AWriteWaitsForAServerThatComesBackWithinItsDeadline) {
    PgIndex index(door_.conninfo(db_), {.answer_timeout_ms = 2000});
    index.insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    cut(index);
    door_.close();
    std::thread back([this] {
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
        door_.open();
    });
    EXPECT_NO_THROW(index.insert({make_row(dig(2), d(2026, 1, 2), d(2026, 7, 2))}));
    back.join();
    EXPECT_EQ(rows_in_index(), 2);
}

// BEGIN and the rows go in one round trip: a row the server refuses there rolls the
// whole batch back, says why, and leaves the connection ready for the next write.
TEST_F(PgFailure, ABatchTheServerRefusesIsRolledBackAndTheNextWriteGoesIn) {
    PgIndex index(db_.conninfo(), {.answer_timeout_ms = 5000});
    auto admin = pgdetail::connect(db_.conninfo());
    pgdetail::exec(admin.get(), "ALTER TABLE messages ADD CONSTRAINT no_refused CHECK (queue_id <> 'REFUSED')");
    auto refused = make_row(dig(2), d(2026, 1, 2), d(2026, 7, 2));
    refused.queue_id = "REFUSED";
    const std::string err =
        error_of([&] { index.insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)), refused}); });
    EXPECT_NE(err.find("cannot insert rows"), std::string::npos) << err;
    EXPECT_NE(err.find("23514"), std::string::npos) << err;
    EXPECT_EQ(rows_in_index(), 0);
    for (int n = 3; n < 5; ++n) {
        ASSERT_NO_THROW(index.insert({make_row(dig(n), d(2026, 1, 3), d(2026, 7, 3))}));
    }
    EXPECT_EQ(index.rows_for(dig(4)).size(), 1U);
    EXPECT_EQ(rows_in_index(), 2);
}

// The server committed, but its answer never arrived: the write finds its rows by their
// tokens after reconnecting instead of writing them again.
TEST_F(PgFailure, ACommitWhoseAnswerIsLostWritesEachRowOnce) {
    PgIndex index(db_.conninfo(), {.answer_timeout_ms = 5000});
    // The connection's socket is swapped for one at its end: shutdown() alone would still
    // let an answer read that arrived before it (a busy machine may run the server first).
    dbdetail::pg_commit_sent_hook = [](pg_conn* c) {
        dbdetail::pg_commit_sent_hook = nullptr;
        int ends[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
        ::close(ends[1]);
        ::dup2(ends[0], PQsocket(c));
        ::close(ends[0]);
    };
    std::vector<std::int64_t> ids;
    ASSERT_NO_THROW(ids = index.insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1)),
                                        make_row(dig(2), d(2026, 1, 1), d(2026, 7, 1))}));
    EXPECT_EQ(dbdetail::pg_commit_sent_hook, nullptr) << "the commit's answer was not lost";
    ASSERT_EQ(ids.size(), 2U);
    const auto one = index.rows_for(dig(1));
    const auto two = index.rows_for(dig(2));
    ASSERT_EQ(one.size(), 1U);
    ASSERT_EQ(two.size(), 1U);
    EXPECT_EQ(one.front().id, ids[0]);
    EXPECT_EQ(two.front().id, ids[1]);
    EXPECT_EQ(rows_in_index(), 2);
}

// A Message-ID may be used again by a later message: its rows are two, never merged.
TEST_F(PgFailure, TheSameMessageIdTwiceMakesTwoRows) {
    PgIndex index(db_.conninfo(), {.answer_timeout_ms = 5000});
    index.insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    index.insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))});
    EXPECT_EQ(index.rows_for(dig(1)).size(), 2U);
}

// A reconnect starts a new session: the settings of the old one must come back with it.
TEST_F(PgFailure, AReadOnlySessionStaysReadOnlyAfterAReconnect) {
    PgIndex index(db_.conninfo(), {.read_only = true, .answer_timeout_ms = 5000});
    auto admin = pgdetail::connect(db_.conninfo());
    pgdetail::exec(admin.get(), "SELECT pg_terminate_backend(" + std::to_string(PQbackendPID(index.handle())) + ")");
    EXPECT_THROW(index.insert({make_row(dig(1), d(2026, 1, 1), d(2026, 7, 1))}), IndexError);
    EXPECT_EQ(rows_in_index(), 0);
}

}  // namespace
}  // namespace rm
