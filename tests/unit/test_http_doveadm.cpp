// The doveadm HTTP API client against a real private Dovecot on loopback (http, and
// https with a CA made here), with the server's doveadm_allowed_commands limited to the
// commands the client sends; and against a stub server that cuts its answer off.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "core/message_id_key.hpp"
#include "dovecot_test_util.hpp"
#include "sweeper/dovecot/http_doveadm.hpp"
#include "sweeper/dovecot/local_doveadm.hpp"

namespace {

namespace fs = std::filesystem;
using rm::sweep::dovecot::DoveadmError;
using rm::sweep::dovecot::HttpDoveadm;
using rm::test::DovecotOptions;
using rm::test::MailFormat;
using rm::test::PrivateDovecot;
using Kind = DoveadmError::Kind;

// What the sweeper's HTTP client sends (http_doveadm.hpp names the same list).
const char* const kAllowed =
    "user,mailbox list,mailbox status,mailbox create,fetch,expunge,save,flags add,purge,mailbox cache purge,force-resync";
const char* const kKey = "sweeper-test-key-5d1e";

template <class F>
Kind kind_of(F&& f) {
    try {
        f();
    } catch (const DoveadmError& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no DoveadmError";
    return Kind::Failed;
}

std::string write_key(const rm::test::TempDir& dir, const std::string& key, mode_t mode = 0600) {
    const std::string path = dir / "api-key";
    std::ofstream(path, std::ios::trunc) << key << "\n";
    ::chmod(path.c_str(), mode);
    return path;
}

rm::SweepDovecot endpoint(const std::string& url, const std::string& key_file, const std::string& ca = "") {
    rm::SweepDovecot e;
    e.name = "api";
    e.url = url;
    e.api_key_file = key_file;
    e.ca_file = ca;
    e.timeout_seconds = 30;
    return e;
}

std::string http_url(const PrivateDovecot& d) { return "http://127.0.0.1:" + std::to_string(d.http_port()) + "/doveadm/v1"; }

std::string message(const std::string& id) {
    return "From: someone@example.org\r\nMessage-ID: " + id + "\r\nSubject: api\r\n\r\nbody of " + id + "\r\n";
}

class HttpDoveadmTest : public ::testing::TestWithParam<MailFormat> {
protected:
    void SetUp() override {
        if (!PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
        DovecotOptions o;
        o.format = GetParam();
        o.api_key = kKey;
        o.allowed_commands = kAllowed;
        dovecot_ = std::make_unique<PrivateDovecot>(o);
        client_ = std::make_unique<HttpDoveadm>(endpoint(http_url(*dovecot_), write_key(keys_, kKey)));
    }
    rm::test::TempDir keys_{"rm-api-key"};
    std::unique_ptr<PrivateDovecot> dovecot_;
    std::unique_ptr<HttpDoveadm> client_;
};

TEST_P(HttpDoveadmTest, UsersMailboxesAndSeparator) {
    auto users = client_->users("*@a.example");
    EXPECT_EQ(users, (std::vector<std::string>{"alice@a.example", "bob@a.example"}));
    EXPECT_TRUE(client_->users("*@nowhere.example").empty());
    EXPECT_TRUE(client_->user_exists("carol@b.example"));
    EXPECT_FALSE(client_->user_exists("nosuch@a.example"));
    client_->create_mailbox("alice@a.example", "Sent/Items");
    client_->create_mailbox("alice@a.example", "Sent/Items");
    auto boxes = client_->mailboxes("alice@a.example");
    EXPECT_NE(std::find_if(boxes.begin(), boxes.end(), [](const auto& b) { return b.name == "Sent/Items" && b.guid.size() == 32; }),
              boxes.end());
    EXPECT_EQ(client_->separator("alice@a.example"), '/');
    EXPECT_FALSE(client_->mailbox_path("alice@a.example", "INBOX").has_value());
}

TEST_P(HttpDoveadmTest, FetchExpungePurgeResync) {
    const std::string u = "alice@a.example";
    dovecot_->deliver(u, message("<m1@example.org>") + std::string("X-Odd: a\0b\r\n", 12));
    dovecot_->deliver(u, message(std::string("<m2\0x@example.org>", 18)));
    auto rows = client_->fetch(u, {"uid", "guid", "hdr", "flags", "date.received.unixtime"}, {"mailbox", "INBOX", "all"});
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_NE(rows[1]["hdr"].find(std::string("<m2\0x@example.org>", 18)), std::string::npos);
    EXPECT_FALSE(rows[0]["guid"].empty());
    client_->expunge(u, {"mailbox", "INBOX", "uid", "1"});
    client_->purge(u);
    client_->force_resync(u, "*");
    rows = client_->fetch(u, {"uid"}, {"mailbox", "INBOX", "all"});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0]["uid"], "2");
}

TEST_P(HttpDoveadmTest, SaveKeepsTheBytesAndFlagsButNotTheReceivedDate) {
    const std::string u = "alice@a.example";
    client_->create_mailbox(u, "Sent/Items");
    const std::string m = message("<saved\xff\xc3\xa9@example.org>");
    EXPECT_FALSE(client_->save(u, "Sent/Items", m, "\\Seen \\Flagged $Label1",
                               std::chrono::system_clock::from_time_t(1'600'000'000)));
    auto rows = client_->fetch(u, {"flags", "text", "date.received.unixtime"}, {"mailbox", "Sent/Items", "all"});
    ASSERT_EQ(rows.size(), 1u);
    for (const char* flag : {"\\Seen", "\\Flagged", "$Label1"}) EXPECT_NE(rows[0]["flags"].find(flag), std::string::npos) << flag;
    EXPECT_NE(rows[0]["text"].find("<saved\xEF\xBF\xBD\xc3\xa9@example.org>"), std::string::npos);
    EXPECT_NE(rows[0]["date.received.unixtime"], "1600000000");
    EXPECT_EQ(client_->fetch(u, {"uid"}, {"all"}).size(), 1u);
}

TEST_P(HttpDoveadmTest, AMissingUserIsNoSuchUser) {
    EXPECT_EQ(kind_of([&] { client_->fetch("nosuch@a.example", {"uid"}, {"all"}); }), Kind::NoSuchUser);
}

INSTANTIATE_TEST_SUITE_P(Formats, HttpDoveadmTest, ::testing::Values(MailFormat::Maildir, MailFormat::Mdbox),
                         [](const auto& p) { return std::string(rm::test::format_name(p.param)); });

class HttpDoveadmFaults : public ::testing::Test {
protected:
    void SetUp() override {
        if (!PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
    }
    rm::test::TempDir keys_{"rm-api-key"};
};

TEST_F(HttpDoveadmFaults, AWrongKeyIsRefusedAndDovecotDownIsUnreachable) {
    DovecotOptions o;
    o.api_key = kKey;
    PrivateDovecot d(o);
    HttpDoveadm wrong(endpoint(http_url(d), write_key(keys_, "not-the-key")));
    EXPECT_EQ(kind_of([&] { wrong.fetch("alice@a.example", {"uid"}, {"all"}); }), Kind::Refused);
    HttpDoveadm right(endpoint(http_url(d), write_key(keys_, kKey)));
    EXPECT_TRUE(right.fetch("alice@a.example", {"uid"}, {"all"}).empty());
    d.stop();
    EXPECT_EQ(kind_of([&] { right.fetch("alice@a.example", {"uid"}, {"all"}); }), Kind::Unreachable);
}

TEST_F(HttpDoveadmFaults, ACommandTheServerDoesNotAllowIsRefused) {
    DovecotOptions o;
    o.api_key = kKey;
    o.allowed_commands = "fetch";
    PrivateDovecot d(o);
    HttpDoveadm client(endpoint(http_url(d), write_key(keys_, kKey)));
    EXPECT_TRUE(client.fetch("alice@a.example", {"uid"}, {"all"}).empty());
    EXPECT_EQ(kind_of([&] { client.purge("alice@a.example"); }), Kind::Refused);
}

// A release folder's ACL, read over the API as the local program reads it.
TEST_F(HttpDoveadmFaults, AclsAreReadOverTheApi) {
    DovecotOptions o;
    o.api_key = kKey;
    o.allowed_commands = std::string(kAllowed) + ",acl get,acl rights";
    o.extra_config = "mail_plugins = $mail_plugins acl\nplugin {\n  acl = vfile\n}\n";
    PrivateDovecot d(o);
    ASSERT_EQ(d.doveadm("mailbox create -u alice@a.example Release"), 0);
    ASSERT_EQ(d.doveadm("acl set -u alice@a.example Release owner lookup read expunge"), 0);
    ASSERT_EQ(d.doveadm("acl set -u alice@a.example Release user=lead@a.example lookup insert"), 0);
    HttpDoveadm client(endpoint(http_url(d), write_key(keys_, kKey)));
    const auto sorted = [](std::vector<std::string> v) {
        std::sort(v.begin(), v.end());
        return v;
    };
    const auto acl = client.acl("alice@a.example", "Release");
    ASSERT_EQ(acl.size(), 2u);
    EXPECT_EQ(acl[0].id, "owner");
    EXPECT_EQ(sorted(acl[0].rights), (std::vector<std::string>{"expunge", "lookup", "read"}));
    EXPECT_EQ(acl[1].id, "user=lead@a.example");
    EXPECT_EQ(sorted(client.acl_rights("alice@a.example", "Release")),
              (std::vector<std::string>{"expunge", "lookup", "read"}));
    rm::sweep::dovecot::LocalDoveadm local([&] {
        rm::SweepDovecot e;
        e.config_file = d.config();
        return e;
    }());
    EXPECT_EQ(local.acl_rights("alice@a.example", "Release"), client.acl_rights("alice@a.example", "Release"));
    EXPECT_EQ(local.acl("alice@a.example", "Release")[1].rights, acl[1].rights);
}

TEST_F(HttpDoveadmFaults, AUserdbThatCannotIterateIsAnErrorNotAnEmptyList) {
    DovecotOptions o;
    o.api_key = kKey;
    o.static_userdb = true;
    PrivateDovecot d(o);
    HttpDoveadm client(endpoint(http_url(d), write_key(keys_, kKey)));
    EXPECT_THROW(client.users("*@a.example"), DoveadmError);
    EXPECT_TRUE(client.user_exists("anyone@a.example"));
}

// The API's JSON is the program's: a Message-ID with invalid UTF-8 keys through it as the
// milter keys the bytes.
TEST_F(HttpDoveadmFaults, MessageIdsKeyAsTheMilterKeysThem) {
    DovecotOptions o;
    o.api_key = kKey;
    PrivateDovecot d(o);
    HttpDoveadm client(endpoint(http_url(d), write_key(keys_, kKey)));
    const std::vector<std::string> ids{"<abc\xff\xfe@secret.example>", "<\xC0\xAF\xED\xA0\x80\xF4\x90\x80\x80@x>",
                                       "<cut\xE2\x82@x>", "<caf\xC3\xA9@example.org>"};
    for (const auto& id : ids) d.deliver("alice@a.example", "Message-ID: " + id + "\nSubject: k\n\nbody\n");
    auto rows = client.fetch("alice@a.example", {"hdr"}, {"mailbox", "INBOX", "all"});
    ASSERT_EQ(rows.size(), ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
        const std::string& hdr = rows[i]["hdr"];
        const std::string value = hdr.substr(12, hdr.find('\n') - 12);
        EXPECT_EQ(rm::message_id_key(value), rm::message_id_key(ids[i])) << i;
    }
}

TEST_F(HttpDoveadmFaults, AKeyFileOpenToEveryoneIsRefusedBeforeAnyCall) {
    EXPECT_THROW(HttpDoveadm(endpoint("http://127.0.0.1:1/doveadm/v1", write_key(keys_, kKey, 0644))), std::runtime_error);
    EXPECT_THROW(HttpDoveadm(endpoint("http://127.0.0.1:1/doveadm/v1", keys_ / "missing")), std::runtime_error);
    EXPECT_THROW(HttpDoveadm(endpoint("http://127.0.0.1:1/doveadm/v1", write_key(keys_, "  "))), std::runtime_error);
    EXPECT_NO_THROW(HttpDoveadm(endpoint("http://127.0.0.1:1/doveadm/v1", write_key(keys_, kKey, 0640))));
}

// A CA and a certificate for 127.0.0.1 signed by it, made with openssl.
void make_tls(const rm::test::TempDir& dir) {
    const std::string d = dir.path().string();
    const std::string cmd =
        "cd " + d + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=rm-test-ca 2>/dev/null"
        " && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null"
        " && printf 'subjectAltName=IP:127.0.0.1\\n' > ext"
        " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
}

TEST_F(HttpDoveadmFaults, HttpsIsVerifiedAgainstTheCaFile) {
    rm::test::TempDir tls("rm-api-tls");
    ::chmod(tls.path().c_str(), 0755);
    make_tls(tls);
    DovecotOptions o;
    o.api_key = kKey;
    o.allowed_commands = kAllowed;
    o.ssl_cert = tls / "server.pem";
    o.ssl_key = tls / "server.key";
    PrivateDovecot d(o);
    const std::string url = "https://127.0.0.1:" + std::to_string(d.http_port()) + "/doveadm/v1";
    HttpDoveadm verified(endpoint(url, write_key(keys_, kKey), tls / "ca.pem"));
    EXPECT_EQ(verified.users("*@a.example"), (std::vector<std::string>{"alice@a.example", "bob@a.example"}));
    // Without the CA (the system's CAs do not know it) the server is not trusted.
    HttpDoveadm unverified(endpoint(url, write_key(keys_, kKey)));
    EXPECT_EQ(kind_of([&] { unverified.users("*@a.example"); }), Kind::Unreachable);
    // Plain http to the TLS listener is no answer either.
    HttpDoveadm plain(endpoint("http://127.0.0.1:" + std::to_string(d.http_port()) + "/doveadm/v1", write_key(keys_, kKey)));
    EXPECT_NE(kind_of([&] { plain.users("*@a.example"); }), Kind::BadAnswer);
}

// A stub HTTP server (python3) answering every POST with a cut-off doveadm answer:
// "short" promises more bytes than it sends; "json" sends whole HTTP but half a JSON.
class CuttingServer {
public:
    CuttingServer(const rm::test::TempDir& dir, const std::string& mode) : port_(rm::test::free_loopback_port()) {
        const std::string script = dir / ("stub-" + mode + ".py");
        std::ofstream(script) << R"(import http.server, sys
port, mode = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'[["doveadmResponse",[{"uid":"1","hdr":"Message-ID: <a@b>'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) + (100 if mode == "short" else 0)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
)";
        pid_ = ::fork();
        if (pid_ == 0) {
            ::execlp("python3", "python3", script.c_str(), std::to_string(port_).c_str(), mode.c_str(), nullptr);
            ::_exit(127);
        }
        for (int i = 0; i < 200 && !listening(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ~CuttingServer() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/doveadm/v1"; }

private:
    bool listening() const {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(port_));
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
    }
    int port_;
    pid_t pid_ = -1;
};

TEST(HttpDoveadmCutOff, AnAnswerCutOffIsBadAnswer) {
    if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "needs python3";
    rm::test::TempDir dir("rm-api-stub");
    for (const char* mode : {"short", "json"}) {
        CuttingServer server(dir, mode);
        HttpDoveadm client(endpoint(server.url(), write_key(dir, kKey)));
        EXPECT_EQ(kind_of([&] { client.fetch("alice@a.example", {"uid", "hdr"}, {"all"}); }), Kind::BadAnswer) << mode;
    }
}

}  // namespace

namespace {

TEST(MakeDoveadm, TheApiWhenTheEndpointHasAUrlElseTheProgram) {
    rm::test::TempDir dir("rm-api-make");
    auto api = rm::sweep::dovecot::make_doveadm(endpoint("http://127.0.0.1:1/doveadm/v1", write_key(dir, kKey)));
    EXPECT_NE(dynamic_cast<HttpDoveadm*>(api.get()), nullptr);
    rm::SweepDovecot local;
    local.name = "local";
    auto program = rm::sweep::dovecot::make_doveadm(local);
    EXPECT_NE(dynamic_cast<rm::sweep::dovecot::LocalDoveadm*>(program.get()), nullptr);
    EXPECT_EQ(program->describe(), "dovecot endpoint \"local\" (/usr/bin/doveadm)");
}

}  // namespace
