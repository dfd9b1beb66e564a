#include <gtest/gtest.h>

#include "core/address.hpp"

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

TEST(Address, DomainEntriesNormaliseAndALeadingDotMatchesSubdomains) {
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
