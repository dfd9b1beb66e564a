// retentionctl must key a Message-ID exactly as the milter did, however staff paste it.
#include <gtest/gtest.h>

#include "core/headers.hpp"
#include "core/message_id_key.hpp"
#include "ctl/error.hpp"
#include "ctl/message_id.hpp"

using namespace rm;
using namespace rm::ctl;

TEST(CtlMessageId, MilterKeyIgnoresBracketsAndSurroundingSpace) {
    const std::string milter = message_id_key("<20260301.abc@mail.example.org>");
    EXPECT_EQ(milter, "20260301.abc@mail.example.org");
    EXPECT_EQ(message_id_key("  <20260301.abc@mail.example.org>  "), milter);
    EXPECT_EQ(message_id_key("20260301.abc@mail.example.org"), milter);
    EXPECT_EQ(message_id_key("\t20260301.abc@mail.example.org \r\n"), milter);
}

TEST(CtlMessageId, PastedFormsGiveTheMilterKey) {
    const std::string milter = message_id_key("<20260301.abc@mail.example.org>");
    for (const char* pasted : {"<20260301.abc@mail.example.org>", "  <20260301.abc@mail.example.org>  ",
                               "20260301.abc@mail.example.org", " 20260301.abc@mail.example.org\n",
                               "Message-ID: <20260301.abc@mail.example.org>", "message-id:20260301.abc@mail.example.org"}) {
        const PastedId id = parse_pasted_message_id(pasted);
        EXPECT_EQ(id.key, milter) << pasted;
        EXPECT_TRUE(id.well_formed) << pasted;
    }
}

TEST(CtlMessageId, FoldedHeaderValueMatchesTheMilter) {
    // A long id folded across two lines in "view source".
    const std::string header = "<20260301.a-very-long-local-part\r\n @mail.example.org>";
    EXPECT_EQ(parse_pasted_message_id(header).key, message_id_key(header));
}

TEST(CtlMessageId, EmptyOrBlankIsAUsageError) {
    for (const char* pasted : {"", "   ", "\t\n", "Message-ID:", "Message-ID:   "}) {
        try {
            parse_pasted_message_id(pasted);
            ADD_FAILURE() << "accepted '" << pasted << "'";
        } catch (const CtlError& e) {
            EXPECT_EQ(e.code(), kExitConfig);
            EXPECT_NE(std::string(e.what()).find("paste the value"), std::string::npos) << e.what();
        }
    }
}

TEST(CtlMessageId, ControlCharactersAndHugeValuesAreRefusedWithoutEchoingThem) {
    for (const std::string& pasted : {std::string("<abc\x01@secret.example>"), std::string("<abc\x7f@secret.example>"),
                                      std::string("<abc\xff\xfe@secret.example>"),
                                      "<" + std::string(2000, 'a') + "@secret.example>"}) {
        try {
            parse_pasted_message_id(pasted);
            ADD_FAILURE() << "accepted a malformed id";
        } catch (const CtlError& e) {
            EXPECT_EQ(e.code(), kExitConfig);
            EXPECT_EQ(std::string(e.what()).find("secret.example"), std::string::npos) << e.what();
        }
    }
}

TEST(CtlMessageId, MalformedButNonEmptyIsLookedUpAsTheMilterKeyedIt) {
    // The milter indexes even a malformed header value (white space removed), so a staff
    // member pasting that same value must reach the same row.
    for (const char* pasted : {"<unterminated@example.org", "two words@example.org", "<>"}) {
        const PastedId id = parse_pasted_message_id(pasted);
        EXPECT_EQ(id.key, message_id_key(pasted)) << pasted;
        EXPECT_FALSE(id.well_formed) << pasted;
        EXPECT_FALSE(id.key.empty());
    }
}
