#!/usr/bin/env python3
"""imap_view.py PORT USER PASSWORD: what a mail client shows USER of the test Dovecot on
127.0.0.1:PORT, after a fresh login: every selectable folder (LIST "" "*"), each SELECTed
and every message in it downloaded whole (UID FLAGS INTERNALDATE BODY.PEEK[]), as a client
syncing a mailbox does. Prints JSON: {"FOLDER": [{"uid", "message_id", "flags" (sorted,
without \\Recent), "internaldate" (Unix time), "x_retain_until", "x_helpline_line"}, ...]},
folder names with "/" between levels whatever the server's separator.

Exits non-zero, saying why, on any IMAP error and when a folder's FETCH gives fewer or
more messages than its SELECT announced (a message the index lists but the store cannot
give back: a ghost)."""
import imaplib
import json
import re
import sys
import time

LIST_RE = re.compile(rb'\((?P<attrs>[^)]*)\) (?P<sep>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$')


def unquote(b):
    if b.startswith(b'"') and b.endswith(b'"'):
        return re.sub(rb'\\(.)', rb'\1', b[1:-1])
    return b


def folders(m):
    typ, data = m.list('""', '"*"')
    if typ != "OK":
        sys.exit("LIST failed: %r" % data)
    out = []
    for line in data:
        if isinstance(line, tuple):  # a name sent as a literal
            line = line[0] + line[1]
        match = LIST_RE.match(line)
        if not match:
            sys.exit("unexpected LIST line: %r" % line)
        if b"\\noselect" in match.group("attrs").lower() or b"\\nonexistent" in match.group("attrs").lower():
            continue
        sep = unquote(match.group("sep")) if match.group("sep") != b"NIL" else b""
        raw = unquote(match.group("name"))
        shown = raw.replace(sep, b"/") if sep else raw
        out.append((raw, shown.decode("utf-8", "replace")))
    return out


def header(raw, name):
    """The first NAME field of the message's header, unfolded, its bytes kept (as ASCII
    with surrogate escapes, so invalid UTF-8 survives the JSON)."""
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    head = re.sub(rb"\r?\n[ \t]+", b" ", head)
    for line in re.split(rb"\r?\n", head):
        field, colon, value = line.partition(b":")
        if colon and field.strip().lower() == name.lower().encode():
            return value.strip().decode("ascii", "surrogateescape")
    return ""


def quote(name):
    return b'"' + name.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def messages(m, raw, shown):
    typ, data = m.select(quote(raw).decode("utf-8", "surrogateescape"), readonly=True)
    if typ != "OK":
        sys.exit("SELECT %s failed: %r" % (shown, data))
    exists = int(data[0])
    if exists == 0:
        return []
    typ, data = m.fetch("1:*", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
    if typ != "OK":
        sys.exit("FETCH in %s failed: %r" % (shown, data))
    out = []
    pending = None
    for item in data:
        if isinstance(item, tuple):
            pending = [item[0], item[1]]
            continue
        if pending is None:
            sys.exit("FETCH in %s: a message without its body: %r" % (shown, item))
        meta = pending[0] + b" " + item
        uid = re.search(rb"UID (\d+)", meta)
        flags = re.search(rb"FLAGS \(([^)]*)\)", meta)
        idate = re.search(rb'INTERNALDATE "[^"]*"', meta)
        if not (uid and flags and idate):
            sys.exit("FETCH in %s: an incomplete answer: %r" % (shown, meta))
        raw = pending[1]
        out.append({
            "uid": int(uid.group(1)),
            "message_id": header(raw, "Message-ID"),
            "flags": sorted(f for f in flags.group(1).decode().split() if f != "\\Recent"),
            "internaldate": int(time.mktime(imaplib.Internaldate2tuple(idate.group(0)))),
            "x_retain_until": header(raw, "X-Retain-Until"),
            "x_helpline_line": header(raw, "X-Helpline-Line"),
        })
        pending = None
    if len(out) != exists:
        sys.exit("%s: SELECT announced %d messages, FETCH gave %d" % (shown, exists, len(out)))
    return out


def main():
    m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
    m.login(sys.argv[2], sys.argv[3])
    view = {}
    for raw, shown in folders(m):
        view[shown] = messages(m, raw, shown)
        m.close()
    m.logout()
    print(json.dumps(view, sort_keys=True))


if __name__ == "__main__":
    main()
