// The Message-ID key the milter computes from a header's bytes equals the key computed
// from what a real doveadm gives back for the same header (`fetch hdr`, JSON): hostile ids,
// invalid UTF-8 of every kind and random bytes, delivered into a private Dovecot.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/message_id_key.hpp"
#include "dovecot_test_util.hpp"
#include "sweeper/dovecot/local_doveadm.hpp"

namespace {

using rm::test::MailFormat;
using rm::test::PrivateDovecot;

std::vector<std::string> hostile_ids() {
    std::vector<std::string> ids{
        "../../../../outside/canary",
        "/etc/passwd",
        "../../../../outside/cur/1500000000.M1P1.outside,S=60:2,S@x",
        "..%2f..%2f..%2f..%2foutside%2fcanary@x",
        "..\\..\\..\\..\\outside\\canary@x",
        "abc\x01@secret.example",
        "abc\x7f@secret.example",
        "abc\xff\xfe@secret.example",
        std::string("nul\0after@example.net", 21),
        "caf\xC3\xA9@example.org",
        "\xC0\xAF\xE0\x80\xAF\xF0\x80\x80\xAF@overlong",
        "\xED\xA0\x80\xED\xBF\xBF@surrogate",
        "\xF4\x90\x80\x80\xF8\x88\x80\x80\x80\xFC\x84\x80\x80\x80\x80@beyond",
        "cut\xE2\x82@x",
        "cut\xF0\x9F\x93@x",
        "\xE2\x80\xA8\xE2\x80\xA9@line-separators",
        "\xEF\xBF\xBD\xEF\xBF\xBE\xEF\xBF\xBF@specials",
        "\x80\x81\xBF\xC1\xF5\xFE\xFF@bytes",
    };
    std::string dots;
    for (int i = 0; i < 150; ++i) dots += "../";
    ids.push_back(dots + "outside/canary@x");
    // Random bytes: mostly 8-bit, and never a line end (the id stays one header line).
    std::mt19937 rng(20261206);
    for (int n = 0; n < 120; ++n) {
        std::string id;
        const auto len = std::uniform_int_distribution<int>(1, 40)(rng);
        for (int i = 0; i < len; ++i) {
            unsigned char c = static_cast<unsigned char>(std::uniform_int_distribution<int>(0, 255)(rng));
            if (i % 3 != 0) c = static_cast<unsigned char>(0x80 | c);
            if (c == '\r' || c == '\n') c = 'x';
            id += static_cast<char>(c);
        }
        ids.push_back(id + "@random.example");
    }
    return ids;
}

// The value of the first Message-ID header of a header block (LF line ends), unfolded.
std::string message_id_value(const std::string& header) {
    size_t at = header.rfind("Message-ID:", 0) == 0 ? 0 : header.find("\nMessage-ID:");
    if (at == std::string::npos) return "";
    if (at != 0) ++at;
    at += 11;
    std::string value;
    for (size_t end; (end = header.find('\n', at)) != std::string::npos; at = end + 1) {
        value += header.substr(at, end - at);
        if (end + 1 >= header.size() || (header[end + 1] != ' ' && header[end + 1] != '\t')) break;
    }
    return value;
}

std::string header_of(const std::string& id) {
    return "From: someone@example.org\nMessage-ID: <" + id + ">\nSubject: id test\n\n";
}

class DovecotMessageIdKey : public ::testing::TestWithParam<MailFormat> {};

TEST_P(DovecotMessageIdKey, TheMiltersKeyEqualsTheKeyOfDoveadmsAnswer) {
    if (!PrivateDovecot::available()) GTEST_SKIP() << "needs root and Dovecot";
    rm::test::DovecotOptions o;
    o.format = GetParam();
    PrivateDovecot dovecot(o);
    rm::SweepDovecot e;
    e.config_file = dovecot.config();
    rm::sweep::dovecot::LocalDoveadm doveadm(e);

    const auto ids = hostile_ids();
    for (const auto& id : ids) dovecot.deliver("alice@a.example", header_of(id) + "body\n");
    auto rows = doveadm.fetch("alice@a.example", {"uid", "hdr"}, {"mailbox", "INBOX", "all"});
    ASSERT_EQ(rows.size(), ids.size());

    int differs_from_raw = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
        const std::string raw = message_id_value(header_of(ids[i]));
        const std::string through_doveadm = message_id_value(rows[i]["hdr"]);
        EXPECT_EQ(rm::message_id_key(through_doveadm), rm::message_id_key(raw)) << "id #" << i;
        EXPECT_EQ(rm::indexed_message_id({through_doveadm}), rm::indexed_message_id({raw})) << "id #" << i;
        EXPECT_EQ(through_doveadm, rm::dovecot_json_utf8(raw)) << "id #" << i;
        if (GetParam() == MailFormat::Maildir) {
            EXPECT_EQ(rows[i]["hdr"], rm::dovecot_json_utf8(header_of(ids[i]))) << "id #" << i;
        }
        if (rm::raw_message_id_key(raw) != rm::message_id_key(raw)) ++differs_from_raw;
    }
    // The test means something: doveadm did change many of these ids.
    EXPECT_GT(differs_from_raw, 100);
}

INSTANTIATE_TEST_SUITE_P(Formats, DovecotMessageIdKey, ::testing::Values(MailFormat::Maildir, MailFormat::Mdbox),
                         [](const auto& p) { return std::string(rm::test::format_name(p.param)); });

}  // namespace
