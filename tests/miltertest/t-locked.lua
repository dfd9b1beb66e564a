TEST = "locked"
dofile(libdir .. "/lib.lua")
-- The runner holds an exclusive lock on the index past the busy timeout: the milter
-- must answer with a temporary failure (on_index_error = "tempfail"), not hang.
local conn = open_conn("127.0.0.2")
local r = send(conn, "QLOCK01", "<caller@example.net>", {"<info@mensadviceline.test>"}, basic_headers("<locked-1@example.net>"))
check(r == SMFIR_TEMPFAIL or r == SMFIR_REPLYCODE, "a locked index did not give a temporary failure (reply " .. tostring(r) .. ")")
check(not mt.eom_check(conn, MT_HDRADD, "X-Retain-Until"), "headers added to a message refused for now")
mt.disconnect(conn)
