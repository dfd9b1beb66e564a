// milter-load: a small MTA-side milter protocol client (version 6) for benchmarks.
// Replays what Postfix sends for one message (connect and MAIL/RCPT with their macros,
// headers, end of message with the queue id) over N concurrent connections, several
// messages per connection, and prints throughput and end-of-message latencies.
//
// The protocol is libmilter's: each packet is a 4-byte length (network order, counting
// the command byte), a command byte, and its data (see libmilter's engine.c and
// Postfix's milter8.c).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/net.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// libmilter's mfdef.h (SMFIP_*).
constexpr std::uint32_t kNoConnect = 0x01, kNoHelo = 0x02, kNoMail = 0x04, kNoRcpt = 0x08, kNoBody = 0x10,
                        kNoHdrs = 0x20, kNoEoh = 0x40, kNrHdr = 0x80, kNoData = 0x200, kNrConn = 0x1000,
                        kNrHelo = 0x2000, kNrMail = 0x4000, kNrRcpt = 0x8000, kNrData = 0x10000,
                        kNrEoh = 0x40000, kNrBody = 0x80000;
// What Postfix 3.7 offers: every action up to SMFIF_SETSYMLIST, every step flag up to
// SMFIP_HDR_LEADSPC.
constexpr std::uint32_t kOfferedActions = 0x1ff, kOfferedSteps = 0x1fffff;

class MilterConn {
public:
    explicit MilterConn(const rm::SocketSpec& spec) {
        if (spec.kind == rm::SocketSpec::Kind::Inet6) throw std::runtime_error("inet6 is not supported here");
        if (spec.kind == rm::SocketSpec::Kind::Unix) {
            fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
            sockaddr_un a{};
            a.sun_family = AF_UNIX;
            std::strncpy(a.sun_path, spec.path.c_str(), sizeof a.sun_path - 1);
            if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
        } else {
            fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(static_cast<std::uint16_t>(spec.port));
            inet_pton(AF_INET, spec.host.empty() ? "127.0.0.1" : spec.host.c_str(), &a.sin_addr);
            const int one = 1;
            ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as Postfix does
            if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
        }
    }
    ~MilterConn() { ::close(fd_); }
    MilterConn(const MilterConn&) = delete;
    MilterConn& operator=(const MilterConn&) = delete;

    void send(char cmd, const std::string& data) {
        std::string pkt(5, '\0');
        const std::uint32_t len = htonl(static_cast<std::uint32_t>(data.size() + 1));
        std::memcpy(pkt.data(), &len, 4);
        pkt[4] = cmd;
        pkt += data;
        write_all(pkt);
    }
    // Reads one reply packet: its command byte, data in `data`.
    char reply(std::string& data) {
        std::uint32_t len = 0;
        read_all(reinterpret_cast<char*>(&len), 4);
        len = ntohl(len);
        if (len == 0 || len > (1u << 24)) throw std::runtime_error("bad reply length");
        std::string buf(len, '\0');
        read_all(buf.data(), len);
        data = buf.substr(1);
        return buf[0];
    }

private:
    void write_all(const std::string& s) {
        size_t off = 0;
        while (off < s.size()) {
            const ssize_t n = ::write(fd_, s.data() + off, s.size() - off);
            if (n <= 0) throw std::runtime_error("write");
            off += static_cast<size_t>(n);
        }
    }
    void read_all(char* p, size_t n) {
        while (n > 0) {
            const ssize_t r = ::read(fd_, p, n);
            if (r <= 0) throw std::runtime_error("read: connection closed");
            p += r;
            n -= static_cast<size_t>(r);
        }
    }
    int fd_ = -1;
};

std::string u32(std::uint32_t v) {
    v = htonl(v);
    return std::string(reinterpret_cast<const char*>(&v), 4);
}

std::string nul(std::initializer_list<std::string> parts) {
    std::string s;
    for (const auto& p : parts) s += p + std::string(1, '\0');
    return s;
}

struct Options {
    std::string socket;
    int connections = 8;
    int messages = 1000;  // in all
    int per_connection = 10;
    int header_bytes = 4096;
    std::string recipient = "<info@mensadviceline.test>";
};

struct Result {
    std::vector<double> eom_ms;
    long tempfails = 0, errors = 0;
};

// One connection's session: negotiate once, then `count` messages.
void run_session(const rm::SocketSpec& spec, const Options& o, int first_id, int count, Result& out) {
    MilterConn c(spec);
    c.send('O', u32(6) + u32(kOfferedActions) + u32(kOfferedSteps));
    std::string data;
    if (c.reply(data) != 'O' || data.size() < 12) throw std::runtime_error("negotiation failed");
    std::uint32_t steps = 0;
    std::memcpy(&steps, data.data() + 8, 4);
    steps = ntohl(steps);
    auto step = [&](char cmd, const std::string& payload, std::uint32_t no_flag, std::uint32_t nr_flag) {
        if (steps & no_flag) return;
        c.send(cmd, payload);
        if (!(steps & nr_flag)) {
            std::string d;
            const char r = c.reply(d);
            if (r != 'c') throw std::runtime_error(std::string("unexpected reply ") + r);
        }
    };
    // The macros Postfix sends when the milter asks for no list of its own (milter_*_macros).
    c.send('D', "C" + nul({"j", "mx.respect.test", "{daemon_name}", "mx.respect.test", "v", "Postfix 3.7.11",
                           "_", "client.example [192.0.2.55]", "{client_addr}", "192.0.2.55",
                           "{client_name}", "client.example"}));
    step('C', nul({"client.example"}) + "4" + std::string("\x30\x39", 2) + nul({"192.0.2.55"}), kNoConnect, kNrConn);
    c.send('D', "H" + nul({"{tls_version}", ""}));
    step('H', nul({"client.example"}), kNoHelo, kNrHelo);
    const std::string filler(static_cast<size_t>(std::max(0, o.header_bytes - 300)), 'x');
    for (int m = 0; m < count; ++m) {
        const int id = first_id + m;
        c.send('D', "M" + nul({"i", "Q" + std::to_string(id), "{auth_type}", "", "{auth_authen}", "",
                               "{mail_addr}", "caller" + std::to_string(id) + "@example.net"}));
        step('M', nul({"<caller" + std::to_string(id) + "@example.net>"}), kNoMail, kNrMail);
        c.send('D', "R" + nul({"{rcpt_addr}", o.recipient.substr(1, o.recipient.size() - 2)}));
        step('R', nul({o.recipient}), kNoRcpt, kNrRcpt);
        step('T', "", kNoData, kNrData);
        for (const auto& [n, v] : std::vector<std::pair<std::string, std::string>>{
                 {"From", "Caller <caller@example.net>"},
                 {"To", "info@mensadviceline.test"},
                 {"Subject", "load test"},
                 {"Message-ID", "<load-" + std::to_string(id) + "-" + std::to_string(::getpid()) + "@example.net>"},
                 {"X-Filler", filler}}) {
            step('L', nul({n, v}), kNoHdrs, kNrHdr);
        }
        step('N', "", kNoEoh, kNrEoh);
        step('B', "Hello.\r\n", kNoBody, kNrBody);
        c.send('D', "E" + nul({"i", "Q" + std::to_string(id)}));
        const auto t0 = Clock::now();
        c.send('E', "");
        for (;;) {
            std::string d;
            const char r = c.reply(d);
            if (r == 'c' || r == 'a') break;
            if (r == 't' || r == 'y') {
                ++out.tempfails;
                break;
            }
            if (r != 'h' && r != 'm' && r != 'i' && r != '+') throw std::runtime_error(std::string("reply ") + r);
        }
        out.eom_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    c.send('Q', "");
}

double mean(const std::vector<double>& v) {
    double sum = 0;
    for (const double x : v) sum += x;
    return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"milter-load: drive a milter with N concurrent MTA-like connections"};
    Options o;
    app.add_option("-s,--socket", o.socket, "milter socket, libmilter syntax (unix:/path, inet:PORT@HOST)")->required();
    app.add_option("-c,--connections", o.connections, "concurrent connections")->capture_default_str();
    app.add_option("-m,--messages", o.messages, "messages in all")->capture_default_str();
    app.add_option("-p,--per-connection", o.per_connection, "messages per connection before reconnecting")
        ->capture_default_str();
    app.add_option("-l,--header-bytes", o.header_bytes, "approximate header size")->capture_default_str();
    app.add_option("-r,--recipient", o.recipient, "envelope recipient")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    std::string why;
    const auto spec = rm::parse_socket_spec(o.socket, &why);
    if (!spec) {
        std::fprintf(stderr, "milter-load: %s\n", why.c_str());
        return 2;
    }
    std::vector<Result> results(static_cast<size_t>(o.connections));
    std::atomic<int> next{0};
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < o.connections; ++t) {
        threads.emplace_back([&, t] {
            try {
                for (;;) {
                    const int first = next.fetch_add(o.per_connection);
                    if (first >= o.messages) break;
                    run_session(*spec, o, first, std::min(o.per_connection, o.messages - first),
                                results[static_cast<size_t>(t)]);
                }
            } catch (const std::exception& e) {
                ++results[static_cast<size_t>(t)].errors;
                std::fprintf(stderr, "milter-load: connection %d: %s\n", t, e.what());
            }
        });
    }
    for (auto& th : threads) th.join();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> all;
    long tempfails = 0, errors = 0;
    for (auto& r : results) {
        all.insert(all.end(), r.eom_ms.begin(), r.eom_ms.end());
        tempfails += r.tempfails;
        errors += r.errors;
    }
    std::printf("connections=%d messages=%zu seconds=%.3f msgs_per_sec=%.1f eom_mean_ms=%.3f eom_p50_ms=%.3f eom_p99_ms=%.3f "
                "tempfails=%ld errors=%ld\n",
                o.connections, all.size(), secs, static_cast<double>(all.size()) / secs, mean(all), percentile(all, 0.50),
                percentile(all, 0.99), tempfails, errors);
    return errors == 0 && tempfails == 0 ? 0 : 1;
}
