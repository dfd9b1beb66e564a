TEST = "forged"
dofile(libdir .. "/lib.lua")
-- Copies of our headers in several spellings, folded, with leading space: all removed,
-- and only ours added.
local conn = open_conn("127.0.0.2")
local h = basic_headers("<forged-1@example.net>")
table.insert(h, {"X-Retain-Until", "2099-12-31"})
table.insert(h, {"x-retain-until", " 2098-01-01"})
table.insert(h, {"X-RETENTION-POLICY", "forever"})
table.insert(h, {"X-Helpline-Line", "mens-advice-line,\n\tfake-line"})
table.insert(h, {"x-HELPLINE-direction", "internal"})
table.insert(h, {"X-Retention-Record", "0123456789abcdef0123456789abcdef"})
local r = send(conn, "QFORG01", "<caller@example.net>", {"<info@mensadviceline.test>"}, h)
check(accepted(r), "mail with forged headers not accepted")
for _, name in ipairs({"X-Retain-Until", "X-Retention-Policy", "X-Helpline-Line", "X-Helpline-Direction",
                       "X-Retention-Record"}) do
    check(mt.eom_check(conn, MT_HDRDELETE, name) or mt.eom_check(conn, MT_HDRCHANGE, name),
          "forged " .. name .. " not removed")
end
expect_stamp(conn, "mens-advice-line", "inbound", retain6)
check(not mt.eom_check(conn, MT_HDRADD, "X-Retain-Until", "2099-12-31"), "the forged date survived")
check(not mt.eom_check(conn, MT_HDRADD, "X-Retention-Record", "0123456789abcdef0123456789abcdef"),
      "the forged record token survived")
mt.disconnect(conn)
