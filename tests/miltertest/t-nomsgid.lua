TEST = "nomsgid"
dofile(libdir .. "/lib.lua")
-- No Message-ID (Sendmail adds one only at delivery): the milter adds one, so every
-- copy can be found later.
local conn = open_conn("127.0.0.2")
local r = send(conn, "QNOID01", "<caller@example.net>", {"<info@mensadviceline.test>"}, basic_headers(nil))
check(accepted(r), "mail without Message-ID not accepted")
check(mt.eom_check(conn, MT_HDRADD, "Message-ID"), "no Message-ID added")
local id = mt.getheader(conn, "Message-ID", 0)  -- miltertest counts from 0
check(id ~= nil and string.find(id, "^<[^<>]+@mx%.respect%.test>$") ~= nil, "odd Message-ID: " .. tostring(id))
expect_stamp(conn, "mens-advice-line", "inbound", retain6)
mt.disconnect(conn)
