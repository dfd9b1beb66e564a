TEST = "inbound"
dofile(libdir .. "/lib.lua")
local conn = open_conn("127.0.0.2")
send_inbound(conn, "QIN0001", "<in-1@example.net>", "inbound mail")
check(not mt.eom_check(conn, MT_HDRADD, "Message-ID"), "a Message-ID was added to mail that had one")
mt.disconnect(conn)
