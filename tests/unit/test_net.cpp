#include <gtest/gtest.h>

#include "core/net.hpp"

using namespace rm;

TEST(Net, AnAddressMatchesTheCidrBlocksThatContainItInEitherFamily) {
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

TEST(Net, MilterSocketSpecsParseAsPostfixWritesThemAndBadOnesSayWhy) {
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
