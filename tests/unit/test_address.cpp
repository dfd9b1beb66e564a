#include <gtest/gtest.h>

#include "core/address.hpp"
#include "core/net.hpp"

using namespace rm;

namespace {
std::string norm(std::string_view raw) {
    auto a = parse_address(raw);
    return a ? a->text() : "(none)";
}
std::string from(std::string_view raw) {
    auto a = parse_from_header(raw);
    return a ? a->text() : "(none)";
}
}  // namespace

TEST(Address, NormalisesForMatching) {
    EXPECT_EQ(norm("<Info@MensAdviceLine.org.uk>"), "info@mensadviceline.org.uk");
    EXPECT_EQ(norm(" info@mensadviceline.org.uk "), "info@mensadviceline.org.uk");
    EXPECT_EQ(norm("info@mensadviceline.org.uk."), "info@mensadviceline.org.uk");  // trailing dot
    EXPECT_EQ(norm("<info+urgent@mensadviceline.org.uk>"), "info@mensadviceline.org.uk");
    EXPECT_EQ(norm("<\"info\"@mensadviceline.org.uk>"), "info@mensadviceline.org.uk");
    EXPECT_EQ(norm("<\"in fo@x\"@example.org>"), "in fo@x@example.org");
    EXPECT_EQ(norm("<@relay.example,@r2.example:info@mensadviceline.org.uk>"), "info@mensadviceline.org.uk");
}

TEST(Address, RejectsWhatIsNotAnAddress) {
    for (const char* bad : {"<>", "", "   ", "postmaster", "@example.org", "a@", "a@b..c", "a@-", "<@relay:>",
                            "a@exa mple.org", "\"unterminated@example.org"}) {
        EXPECT_EQ(norm(bad), "(none)") << bad;
    }
}

// Found by tests/fuzz/fuzz_address: a local part with a quote outside a quoted-string
// was cut at its '+' to a lone '"' and matched a line by its domain.
TEST(Address, AStrayQuoteInTheLocalPartIsNoAddress) {
    EXPECT_EQ(norm("\"+\\\"x\"@I@RespectPhoneline.ORG.UK."), "(none)");
    EXPECT_EQ(norm("in\"fo@example.org"), "(none)");
    EXPECT_EQ(norm("<\"info+x\"@example.org>"), "info@example.org");
}

// Found by tests/fuzz/fuzz_address: "@:@:help@x" lost its route "@:" and kept "@:help" as
// a local part, which read back as another route before "help@x", a line's address.
TEST(Address, SpecialsOutsideQuotesAreNoLocalPart) {
    EXPECT_EQ(norm("@:@:help@example.org"), "(none)");
    EXPECT_EQ(norm("a:b@example.org"), "(none)");
    EXPECT_EQ(norm("a,b@example.org"), "(none)");
    EXPECT_EQ(norm("@relay1,@relay2:Help@Example.org"), "help@example.org");
    EXPECT_EQ(norm("\"a:b\"@example.org"), "a:b@example.org");
}

TEST(Address, FromHeaderTakesTheAddressNotTheDisplayName) {
    EXPECT_EQ(from("Men's Advice Line <info@mensadviceline.org.uk>"), "info@mensadviceline.org.uk");
    EXPECT_EQ(from("\"info@mensadviceline.org.uk\" <attacker@evil.example>"), "attacker@evil.example");
    EXPECT_EQ(from("info@mensadviceline.org.uk (Men's Advice Line)"), "info@mensadviceline.org.uk");
    EXPECT_EQ(from("Team:\r\n a@example.org, b@example.org;"), "a@example.org");
    EXPECT_EQ(from("=?utf-8?q?Caf=C3=A9?=\r\n\t<Info@Example.org>"), "info@example.org");
    EXPECT_EQ(from("no address here"), "(none)");
    EXPECT_EQ(from("<broken@example.org"), "(none)");
}

TEST(Address, DomainEntries) {
    EXPECT_EQ(normalise_domain_entry("MensAdviceLine.org.uk."), "mensadviceline.org.uk");
    EXPECT_EQ(normalise_domain_entry(".example.org"), ".example.org");
    EXPECT_FALSE(normalise_domain_entry("not a domain"));
    EXPECT_FALSE(normalise_domain_entry(""));
    EXPECT_TRUE(domain_matches("example.org", "example.org"));
    EXPECT_FALSE(domain_matches("example.org", "mail.example.org"));  // no subdomains unless asked
    EXPECT_TRUE(domain_matches(".example.org", "mail.example.org"));
    EXPECT_TRUE(domain_matches(".example.org", "example.org"));
    EXPECT_FALSE(domain_matches(".example.org", "badexample.org"));
}

TEST(Net, CidrBlocks) {
    auto lo = parse_cidr("127.0.0.1/32");
    ASSERT_TRUE(lo);
    EXPECT_TRUE(cidr_contains(*lo, "127.0.0.1"));
    EXPECT_FALSE(cidr_contains(*lo, "127.0.0.2"));
    EXPECT_TRUE(cidr_contains(*lo, "::ffff:127.0.0.1"));
    auto ten = parse_cidr("10.0.0.0/8");
    ASSERT_TRUE(ten);
    EXPECT_TRUE(cidr_contains(*ten, "10.200.3.4"));
    EXPECT_FALSE(cidr_contains(*ten, "11.0.0.1"));
    auto v6 = parse_cidr("::1/128");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(cidr_contains(*v6, "::1"));
    EXPECT_TRUE(cidr_contains(*v6, "[IPv6:::1]"));
    EXPECT_FALSE(cidr_contains(*v6, "127.0.0.1"));
    EXPECT_FALSE(cidr_contains(*lo, ""));
    EXPECT_FALSE(cidr_contains(*lo, "garbage"));
    auto host = parse_cidr("192.0.2.7");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->prefix, 32);
    for (const char* bad : {"127.0.0.1/33", "10.0.0.1/8", "::1/129", "300.1.1.1/32", "localhost", "", "1.2.3.4/",
                            "1.2.3.4/x"}) {
        EXPECT_FALSE(parse_cidr(bad)) << bad;
    }
}

TEST(Net, SocketSpecs) {
    auto s = parse_socket_spec("inet:8891@127.0.0.1");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->kind, SocketSpec::Kind::Inet);
    EXPECT_EQ(s->port, 8891);
    EXPECT_EQ(s->host, "127.0.0.1");
    s = parse_socket_spec("inet6:8891@[::1]");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->kind, SocketSpec::Kind::Inet6);
    EXPECT_EQ(s->host, "::1");
    s = parse_socket_spec("unix:/var/spool/postfix/retention-milter/milter.sock");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->kind, SocketSpec::Kind::Unix);
    EXPECT_TRUE(parse_socket_spec("local:/run/rm.sock"));
    EXPECT_TRUE(parse_socket_spec("inet:8891"));
    EXPECT_TRUE(parse_socket_spec("inet:8891@localhost"));
    std::string why;
    for (const char* bad : {"inet:127.0.0.1:8891", "inet:port@localhost", "inet:0@127.0.0.1", "inet:70000@127.0.0.1",
                            "unix:relative/path", "tcp:8891@127.0.0.1", "8891", "inet:8891@", "inet:8891@::1",
                            "inet6:8891@127.0.0.1", "inet:8891@bad host"}) {
        EXPECT_FALSE(parse_socket_spec(bad, &why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
}
