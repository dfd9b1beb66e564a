TEST = "session"
dofile(libdir .. "/lib.lua")
-- Several messages on one connection, with an abort in the middle: nothing leaks
-- from one message to the next.
local conn = open_conn("127.0.0.2")
send_inbound(conn, "QSES001", "<s-1@example.net>", "first message")

-- A message to the other line, aborted after its headers (RSET).
mt.macro(conn, SMFIC_MAIL, "i", "QSES002")
check(mt.mailfrom(conn, "<caller@example.net>") == nil, "MAIL FROM failed")
check(mt.rcptto(conn, "<info@respectphoneline.test>") == nil, "RCPT failed")
check(mt.header(conn, "Message-ID", "<s-2-aborted@example.net>") == nil, "header failed")
check(mt.abort(conn) == nil, "abort failed")

-- The next message must not inherit the aborted one's recipient.
send_inbound(conn, "QSES003", "<s-3@example.net>", "third message")
check(not mt.eom_check(conn, MT_HDRADD, "X-Helpline-Line", "respect-phoneline,mens-advice-line"),
      "the aborted message's recipient leaked into the next one")

-- And one of no line after them: untouched.
local r = send(conn, "QSES004", "<a@example.net>", {"<staff@respect.test>"}, {{"From", "a@example.net"}, {"Message-ID", "<s-4@x>"}})
check(accepted(r), "fourth message not accepted")
expect_no_stamp(conn)
mt.disconnect(conn)

-- A connection closed abruptly in the middle of a message.
conn = open_conn("127.0.0.2")
mt.macro(conn, SMFIC_MAIL, "i", "QSES005")
check(mt.mailfrom(conn, "<caller@example.net>") == nil, "MAIL FROM failed")
check(mt.rcptto(conn, "<info@mensadviceline.test>") == nil, "RCPT failed")
mt.disconnect(conn, false)
