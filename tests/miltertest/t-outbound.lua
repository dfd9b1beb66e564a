TEST = "outbound"
dofile(libdir .. "/lib.lua")
-- Authenticated staff reply "sent as" the helpline: indexed, not stamped.
local conn = open_conn("192.0.2.10")
local h = {{"From", "Men's Advice Line <info@mensadviceline.test>"}, {"To", "caller@example.net"},
           {"Subject", "Re: hello"}, {"Message-ID", "<out-1@respect.test>"}}
local r = send(conn, "QOUT001", "<advisor@respect.test>", {"<caller@example.net>"}, h, "advisor")
check(accepted(r), "outbound mail not accepted")
expect_no_stamp(conn)
mt.disconnect(conn)

-- The same from a submission service ({daemon_name} = ORIGINATING) without AUTH.
conn = open_conn("192.0.2.10", "ORIGINATING")
h[4] = {"Message-ID", "<out-2@respect.test>"}
r = send(conn, "QOUT002", "<advisor@respect.test>", {"<caller@example.net>"}, h)
check(accepted(r), "submission mail not accepted")
expect_no_stamp(conn)
mt.disconnect(conn)

-- Without the auth macro, from an outside address: not outbound, and touches no line.
conn = open_conn("192.0.2.10")
h[4] = {"Message-ID", "<out-3@respect.test>"}
r = send(conn, "QOUT003", "<advisor@respect.test>", {"<caller@example.net>"}, h)
check(accepted(r), "unauthenticated mail not accepted")
expect_no_stamp(conn)
mt.disconnect(conn)
