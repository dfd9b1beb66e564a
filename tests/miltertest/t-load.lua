TEST = "load"
dofile(libdir .. "/lib.lua")
-- One worker of the concurrency test (concurrency.sh runs many at once): `count`
-- messages, `per_conn` on each connection. Odd connections come from an outsider
-- (inbound), even ones from a trusted client (internal); every message has its own
-- queue id and Message-ID. Given by the runner: worker (a number), count, per_conn.
local w = tonumber(worker)
local n = tonumber(count)
local per = tonumber(per_conn)
local conn, internal = nil, false
local conns = 0
for i = 1, n do
    if conn == nil then
        conns = conns + 1
        internal = (conns % 2 == 0)
        conn = open_conn(internal and "127.0.0.1" or "127.0.0.2")
    end
    local qid = string.format("QL%02dX%04d", w, i)
    local msgid = string.format("<load-%d-%d@example.net>", w, i)
    local r
    if internal then
        r = send(conn, qid, "<advisor@respect.test>", {"<info@respectphoneline.test>"},
                 {{"From", "advisor@respect.test"}, {"Subject", "handover"}, {"Message-ID", msgid}})
        check(accepted(r), qid .. " not accepted (reply " .. tostring(r) .. ")")
        expect_stamp(conn, "respect-phoneline", "internal", retain6)
    else
        r = send(conn, qid, "<caller@example.net>", {"<info@mensadviceline.test>"}, basic_headers(msgid))
        check(accepted(r), qid .. " not accepted (reply " .. tostring(r) .. ")")
        expect_stamp(conn, "mens-advice-line", "inbound", retain6)
    end
    if i % per == 0 then
        mt.disconnect(conn)
        conn = nil
    end
end
if conn ~= nil then mt.disconnect(conn) end
