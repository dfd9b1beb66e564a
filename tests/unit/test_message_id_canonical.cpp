// Message-ID keys in the form Dovecot's JSON output gives header bytes: each byte that
// does not begin well-formed UTF-8 replaced by one U+FFFD.
#include <gtest/gtest.h>

#include <string>

#include "core/message_id_key.hpp"

namespace {

using rm::dovecot_json_utf8;
const std::string R = "\xEF\xBF\xBD";  // U+FFFD

TEST(DovecotJsonUtf8, ValidUtf8IsUnchanged) {
    for (const std::string& s : {std::string("plain@example.org"), std::string("caf\xC3\xA9@example.org"),
                                std::string("\xE2\x82\xAC\xF0\x9F\x93\xA7\xF4\x8F\xBF\xBF\xEF\xBF\xBF"), std::string(),
                                std::string("a\0b", 3), std::string("\x7f\x01")}) {
        EXPECT_EQ(dovecot_json_utf8(s), s);
    }
}

TEST(DovecotJsonUtf8, EachBadByteIsOneReplacement) {
    EXPECT_EQ(dovecot_json_utf8("a\xff\xfe" "b"), "a" + R + R + "b");
    EXPECT_EQ(dovecot_json_utf8("\x80\xBF"), R + R);                       // lone continuation bytes
    EXPECT_EQ(dovecot_json_utf8("\xC0\xAF"), R + R);                       // overlong '/'
    EXPECT_EQ(dovecot_json_utf8("\xC1\xBF"), R + R);                       // overlong
    EXPECT_EQ(dovecot_json_utf8("\xE0\x80\xAF"), R + R + R);               // overlong, 3 bytes
    EXPECT_EQ(dovecot_json_utf8("\xF0\x80\x80\xAF"), R + R + R + R);       // overlong, 4 bytes
    EXPECT_EQ(dovecot_json_utf8("\xED\xA0\x80"), R + R + R);               // a surrogate
    EXPECT_EQ(dovecot_json_utf8("\xF4\x90\x80\x80"), R + R + R + R);       // above U+10FFFF
    EXPECT_EQ(dovecot_json_utf8("\xF8\x88\x80\x80\x80"), std::string() + R + R + R + R + R);  // 5-byte form
    EXPECT_EQ(dovecot_json_utf8("\xE2\x82"), R + R);                       // cut off at the end
    EXPECT_EQ(dovecot_json_utf8("\xE2\x82" "A\xE2\x82\xAC"), R + R + "A\xE2\x82\xAC");  // cut off, then valid
    EXPECT_EQ(dovecot_json_utf8("\xC3"), R);
}

TEST(DovecotJsonUtf8, IsItsOwnFixedPoint) {
    const std::string once = dovecot_json_utf8("x\xff\xE2\x82\xC0\xAF\xED\xA0\x80y");
    EXPECT_EQ(dovecot_json_utf8(once), once);
}

TEST(MessageIdKey, KeysInvalidUtf8InDovecotsForm) {
    EXPECT_EQ(rm::message_id_key("<abc\xff\xfe@secret.example>"), "abc" + R + R + "@secret.example");
    EXPECT_EQ(rm::raw_message_id_key("<abc\xff\xfe@secret.example>"), "abc\xff\xfe@secret.example");
    EXPECT_EQ(rm::message_id_key("<caf\xC3\xA9@example.org>"), rm::raw_message_id_key("<caf\xC3\xA9@example.org>"));
    // White space between the bytes of a sequence does not make it whole.
    EXPECT_EQ(rm::message_id_key("<\xE2 \x82\xAC@x>"), R + R + R + "@x");
    EXPECT_EQ(rm::usable_message_id("<a\xff@x>"), "a" + R + "@x");
    EXPECT_EQ(rm::indexed_message_id({"<a\xff@x>"}), "a" + R + "@x");
}

TEST(MessageIdKey, TheLegacyKeyIsTheSameIdsBytesAsTheyAre) {
    // The same header chosen (the first usable), keyed over its bytes.
    EXPECT_EQ(rm::legacy_indexed_message_id({"<>", "<a\xff@x>", "<b@x>"}), "a\xff@x");
    EXPECT_EQ(rm::legacy_indexed_message_id({"<caf\xC3\xA9@x>"}), rm::indexed_message_id({"<caf\xC3\xA9@x>"}));
    EXPECT_EQ(rm::legacy_indexed_message_id({"bare \xff id"}), "bare\xffid");
    EXPECT_EQ(rm::legacy_indexed_message_id({}), "");
}

}  // namespace
