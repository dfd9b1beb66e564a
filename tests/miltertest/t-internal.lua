TEST = "internal"
dofile(libdir .. "/lib.lua")
-- A trusted client writing only to lines: stamped, every tag listed in config order.
local conn = open_conn("127.0.0.1")
local h = {{"From", "advisor@respect.test"}, {"Subject", "handover"}, {"Message-ID", "<int-1@respect.test>"}}
local r = send(conn, "QINT001", "<advisor@respect.test>",
               {"<info@mensadviceline.test>", "<info@respectphoneline.test>"}, h)
check(accepted(r), "internal mail not accepted")
expect_stamp(conn, "respect-phoneline,mens-advice-line", "internal", retain6)
mt.disconnect(conn)
