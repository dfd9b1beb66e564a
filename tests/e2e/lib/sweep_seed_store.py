#!/usr/bin/env python3
"""sweep_seed_store.py MAILBOX KEY-FILE EXPIRED LIVE SQL-FILE: a shared mailbox as the milter
and Postfix would have left it, for the sweep tests: EXPIRED messages past their retention
date and LIVE ones before it, each a file in MAILBOX/cur; SQL-FILE gets the index rows the
milter would have written for them (keyed with KEY-FILE's key, queue ids SEEDO<n>/SEEDL<n>).
"""
import datetime, os, sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from index_digest import digest  # noqa: E402 (the one Message-ID oracle, beside this file)

root, key, expired, live, sql = sys.argv[1], open(sys.argv[2], "rb").read(), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(root, sub), exist_ok=True)
today = datetime.date.today()
rows = []
def add(kind, n, retain):
    mid = "%s-%d@seed.example" % (kind, n)
    name = "1700000000.M%d%sP1.seedhost,S=300:2,S" % (n, kind[0].upper())
    body = ("Return-Path: <x@seed.example>\nMessage-ID: <%s>\nX-Helpline-Line: respect-phoneline\n"
            "X-Retain-Until: %s\nSubject: seeded\n\n%s\n" % (mid, retain, "a line of the body " * 10))
    with open(os.path.join(root, "cur", name), "w") as f:
        f.write(body)
    d = digest(key, "message-id", mid.encode())
    passed = retain - datetime.timedelta(days=183)
    rows.append("INSERT INTO messages (digest, queue_id, lines, direction, policy, passed_on, retain_until) "
                "VALUES (x'%s', 'SEED%s%d', 'respect-phoneline', 'inbound', 'email', '%s', '%s');"
                % (d, kind[0].upper(), n, passed, retain))
for n in range(expired):
    add("old", n, today - datetime.timedelta(days=1 + n % 30))
for n in range(live):
    add("live", n, today + datetime.timedelta(days=1 + n % 150))
with open(sql, "w") as f:
    f.write("BEGIN;\n" + "\n".join(rows) + "\nCOMMIT;\n")
