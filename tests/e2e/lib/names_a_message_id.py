#!/usr/bin/env python3
"""names_a_message_id.py FILE: exit 0 when FILE's header block has a Message-ID field with a
usable id (as the milter and the sweeper read one: index_digest.normalised), else 1."""
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from index_digest import normalised  # noqa: E402 (the one Message-ID oracle, beside this file)

fields, name, value = [], None, b""
for line in open(sys.argv[1], "rb").read().split(b"\n"):
    line = line.rstrip(b"\r")
    if not line:
        break
    if line[:1] in (b" ", b"\t") and name is not None:
        value += line
        continue
    if name is not None:
        fields.append((name, value))
    m = re.match(rb"([!-9;-~]+)[ \t]*:(.*)", line)
    if not m:
        name = None
        break
    name, value = m.group(1).lower(), m.group(2)
if name is not None:
    fields.append((name, value))
sys.exit(0 if any(n == b"message-id" and normalised(v) is not None for n, v in fields) else 1)
