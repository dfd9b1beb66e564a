#include <gtest/gtest.h>

#include <algorithm>

#include "core/headers.hpp"
#include "core/message_id_key.hpp"

using namespace rm;
using namespace std::chrono;
using namespace std::string_literals;

TEST(Headers, OurHeadersInAnyCase) {
    EXPECT_EQ(our_header_slot("X-Helpline-Line"), 0u);
    EXPECT_EQ(our_header_slot("x-helpline-line"), 0u);
    EXPECT_EQ(our_header_slot(" X-RETAIN-UNTIL "), 2u);
    EXPECT_EQ(our_header_slot("x-retention-policy"), 3u);
    for (const char* other : {"X-Helpline-Lines", "Subject"}) EXPECT_FALSE(our_header_slot(other)) << other;
}

TEST(Headers, MessageIdNormalisation) {
    EXPECT_EQ(normalise_message_id("<abc@example.org>"), "abc@example.org");
    EXPECT_EQ(normalise_message_id("  <abc@example.org>  "), "abc@example.org");
    EXPECT_EQ(normalise_message_id("\r\n\t<abc@\r\n example.org> (comment)"), "abc@example.org");
    EXPECT_EQ(normalise_message_id("abc@example.org"), "abc@example.org");
    EXPECT_EQ(normalise_message_id(" abc@example.org\n"), "abc@example.org");
    EXPECT_EQ(normalise_message_id("<a@b> <c@d>"), "a@b");  // the first id counts
    for (const std::string& not_an_id : {""s, "<>"s, "<abc@example.org"s, "two words"s, std::string("<a\0b@x>", 8)}) {
        EXPECT_FALSE(normalise_message_id(not_an_id)) << not_an_id;
    }
}

TEST(Headers, MessageIdKeyKeepsEvenGarbage) {
    EXPECT_EQ(message_id_key("<abc@example.org>"), "abc@example.org");
    EXPECT_EQ(message_id_key("not really an id"), "notreallyanid");
    EXPECT_EQ(message_id_key("   "), "");
}

TEST(Headers, MadeMessageIdsAreUniqueAndParse) {
    const auto a = make_message_id("mx.respect.test");
    const auto b = make_message_id("mx.respect.test");
    EXPECT_NE(a, b);
    EXPECT_TRUE(normalise_message_id(a));
    EXPECT_NE(a.find("@mx.respect.test>"), std::string::npos);
    EXPECT_NE(make_message_id("bad host<>").find("@localhost>"), std::string::npos);
}

