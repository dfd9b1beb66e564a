TEST = "noline"
dofile(libdir .. "/lib.lua")
-- Mail that touches no line: no header, no Message-ID, nothing changed.
local conn = open_conn("127.0.0.2")
local r = send(conn, "QNONE01", "<a@example.net>", {"<staff@respect.test>"},
               {{"From", "a@example.net"}, {"Subject", "not for a helpline"}})
check(accepted(r), "mail of no line not accepted")
expect_no_stamp(conn)
check(not mt.eom_check(conn, MT_HDRADD, "Message-ID"), "a Message-ID was added to mail of no line")
check(not mt.eom_check(conn, MT_HDRDELETE), "something was deleted from mail of no line")
check(not mt.eom_check(conn, MT_HDRCHANGE), "something was changed in mail of no line")

-- ... but a forged retention date is removed from it all the same.
r = send(conn, "QNONE02", "<a@example.net>", {"<staff@respect.test>"},
         {{"From", "a@example.net"}, {"X-Retain-Until", "2099-01-01"}, {"Message-ID", "<n2@example.net>"}})
check(accepted(r), "mail of no line with a forged header not accepted")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Retain-Until") or mt.eom_check(conn, MT_HDRCHANGE, "X-Retain-Until"),
      "forged X-Retain-Until left on mail of no line")
expect_no_stamp(conn)
mt.disconnect(conn)
