TEST = "forgedflood"
dofile(libdir .. "/lib.lua")
-- Our headers' names, in the milter's order: every one is forged below.
local ours = {"X-Helpline-Line", "X-Helpline-Direction", "X-Retain-Until", "X-Retention-Policy"}

local function forged(msgid, n)
    local h = basic_headers(msgid)
    for i = 1, n do
        table.insert(h, {ours[(i - 1) % #ours + 1], "forged-" .. i})
    end
    return h
end

-- Twenty copies in all, the most an honest message could ever be excused: each removed.
local conn = open_conn("127.0.0.2")
local r = send(conn, "QFLOOD20", "<caller@example.net>", {"<info@mensadviceline.test>"},
               forged("<flood-20@example.net>", 20))
check(accepted(r), "a message with 20 forged copies was not accepted (reply " .. tostring(r) .. ")")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Retain-Until") or mt.eom_check(conn, MT_HDRCHANGE, "X-Retain-Until"),
      "the forged copies were not removed")
expect_stamp(conn, "mens-advice-line", "inbound", retain6)
mt.disconnect(conn)

-- Two thousand copies: refused with a reply code (550 5.7.1), not one header deleted.
conn = open_conn("127.0.0.2")
r = send(conn, "QFLOOD21", "<caller@example.net>", {"<info@mensadviceline.test>"},
         forged("<flood-2000@example.net>", 2000))
check(r == SMFIR_REPLYCODE, "a flood of forged copies was not refused with a reply code (reply " .. tostring(r) .. ")")
for _, name in ipairs(ours) do
    check(not mt.eom_check(conn, MT_HDRDELETE, name) and not mt.eom_check(conn, MT_HDRCHANGE, name),
          "a forged " .. name .. " was deleted one by one")
end
expect_no_stamp(conn)
mt.disconnect(conn)
