TEST = "inbound"
dofile(libdir .. "/lib.lua")
local conn = open_conn("127.0.0.2")
local r = send(conn, "QIN0001", "<caller@example.net>", {"<info@mensadviceline.test>"}, basic_headers("<in-1@example.net>"))
check(accepted(r), "inbound mail not accepted")
expect_stamp(conn, "mens-advice-line", "inbound", retain6)
check(not mt.eom_check(conn, MT_HDRADD, "Message-ID"), "a Message-ID was added to mail that had one")
mt.disconnect(conn)
