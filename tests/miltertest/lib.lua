-- Helpers shared by the miltertest scripts. The runner (run.sh) starts the milter and
-- passes: sock (the milter's socket), today and retain6 (UTC dates), qid (a queue id).

function fail(msg)
    error(TEST .. ": " .. msg)
end

function check(cond, msg)
    if not cond then fail(msg) end
end

-- A connection as Postfix makes one: negotiate, then connection facts and macros.
function open_conn(ip, daemon)
    local conn = mt.connect(sock, 40, 0.25)
    check(conn ~= nil, "cannot connect to the milter at " .. sock)
    mt.set_timeout(30)
    check(mt.negotiate(conn, 6, nil, nil) == nil, "negotiate failed")
    mt.macro(conn, SMFIC_CONNECT, "j", "mx.respect.test", "{daemon_name}", daemon or "smtpd")
    check(mt.conninfo(conn, "client.example", ip) == nil, "conninfo failed")
    return conn
end

-- One message: envelope, headers (a list of {name, value}), end of message.
function send(conn, qid, sender, rcpts, headers, auth)
    if auth then
        mt.macro(conn, SMFIC_MAIL, "i", qid, "{auth_authen}", auth)
    else
        mt.macro(conn, SMFIC_MAIL, "i", qid)
    end
    check(mt.mailfrom(conn, sender) == nil, "MAIL FROM failed")
    for _, r in ipairs(rcpts) do
        check(mt.rcptto(conn, r) == nil, "RCPT TO failed")
    end
    for _, h in ipairs(headers) do
        check(mt.header(conn, h[1], h[2]) == nil, "header " .. h[1] .. " failed")
    end
    -- No EOH and no body: the milter negotiates those steps away (SMFIP_NOEOH,
    -- SMFIP_NOBODY), and miltertest refuses to send a step that was negotiated away.
    check(mt.eom(conn) == nil, "EOM failed")
    return mt.getreply(conn)
end

function accepted(reply)
    return reply == SMFIR_CONTINUE or reply == SMFIR_ACCEPT
end

function expect_stamp(conn, line, direction, until_date)
    check(mt.eom_check(conn, MT_HDRADD, "X-Helpline-Line", line), "X-Helpline-Line " .. line .. " not added")
    check(mt.eom_check(conn, MT_HDRADD, "X-Helpline-Direction", direction), "X-Helpline-Direction " .. direction .. " not added")
    check(mt.eom_check(conn, MT_HDRADD, "X-Retain-Until", until_date), "X-Retain-Until " .. until_date .. " not added")
    check(mt.eom_check(conn, MT_HDRADD, "X-Retention-Policy", "email"), "X-Retention-Policy not added")
    check(mt.eom_check(conn, MT_HDRADD, "X-Retention-Record"), "X-Retention-Record not added")
end

function expect_no_stamp(conn)
    for _, h in ipairs({"X-Helpline-Line", "X-Helpline-Direction", "X-Retain-Until", "X-Retention-Policy",
                        "X-Retention-Record"}) do
        check(not mt.eom_check(conn, MT_HDRADD, h), h .. " was added but should not be")
    end
end

function basic_headers(msgid)
    local h = {
        {"From", "Caller <caller@example.net>"},
        {"To", "info@mensadviceline.test"},
        {"Subject", "hello"},
    }
    if msgid then table.insert(h, {"Message-ID", msgid}) end
    return h
end

-- A caller's message to the Men's Advice Line: accepted and stamped inbound.
function send_inbound(conn, qid, msgid, what)
    local r = send(conn, qid, "<caller@example.net>", {"<info@mensadviceline.test>"}, basic_headers(msgid))
    check(accepted(r), what .. " not accepted")
    expect_stamp(conn, "mens-advice-line", "inbound", retain6)
end
