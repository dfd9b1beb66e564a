TEST = "badinput"
dofile(libdir .. "/lib.lua")
-- Hostile and odd input: never a crash, and never accepted without its row (the
-- runner counts rows after this script).
local conn = open_conn("127.0.0.2")

-- 1,000 headers, one of them long, empty values, no From. (miltertest itself crashes
-- (stack smashing) on a header of more than about 2 KB; the 100 KB header goes through the real Postfix
-- in tests/e2e/test_milter_postfix.sh.)
local h = {}
for i = 1, 1000 do table.insert(h, {"X-Filler-" .. i, ""}) end
table.insert(h, {"X-Huge", string.rep("a", 1000)})
table.insert(h, {"Message-ID", "<bad-1@example.net>"})
local r = send(conn, "QBAD001", "<caller@example.net>", {"<info@mensadviceline.test>"}, h)
check(accepted(r), "message with 1,000 headers not accepted")
expect_stamp(conn, "mens-advice-line", "inbound", retain6)

-- 500 recipients, of which one is a line.
local rcpts = {}
for i = 1, 499 do table.insert(rcpts, "<user" .. i .. "@example.org>") end
table.insert(rcpts, "<info@respectphoneline.test>")
r = send(conn, "QBAD002", "<caller@example.net>", rcpts, basic_headers("<bad-2@example.net>"))
check(accepted(r), "message with 500 recipients not accepted")
check(mt.eom_check(conn, MT_HDRADD, "X-Helpline-Line", "respect-phoneline"), "500-recipient message not stamped")

-- A long Message-ID (10 KB goes through Postfix, see above), non-UTF-8 bytes and control characters in values.
r = send(conn, "QBAD003", "<caller@example.net>", {"<info@mensadviceline.test>"},
         {{"From", "\255\254 <caller@example.net>"}, {"Subject", "\1\2\3\255"},
          {"Message-ID", "<" .. string.rep("x", 1000) .. "@example.net>"}})
check(accepted(r), "message with a long Message-ID not accepted")
expect_stamp(conn, "mens-advice-line", "inbound", retain6)

-- A Message-ID that is garbage, and an empty From.
r = send(conn, "QBAD004", "<>", {"<info@mensadviceline.test>"},
         {{"From", ""}, {"Message-ID", "not an id at all"}})
check(accepted(r), "message with a garbage Message-ID not accepted")
expect_stamp(conn, "mens-advice-line", "inbound", retain6)
mt.disconnect(conn)
