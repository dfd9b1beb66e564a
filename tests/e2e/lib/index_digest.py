#!/usr/bin/env python3
"""The keyed digests the index holds, computed independently of the product.

  index_digest.py KEY-FILE message-id VALUE...  the digest of each Message-ID header value
  index_digest.py KEY-FILE record TOKEN...      the digest of each record token
                                                (X-Retention-Record)

Printed one a line, in order, as upper-case hex HMAC-SHA-256 keyed by the bytes of KEY-FILE.

A Message-ID is keyed as the milter reads it: the text between the first '<' and the next
'>' with spaces, tabs, CRs and LFs removed, when that is a usable id (not empty, no control
characters, no DEL, no '<' or '>'); a bare value without blanks as it stands; anything else
(an unusable value) with its blanks removed. The value (up to its first NUL) is first put in
the form Dovecot's JSON output gives it: each byte that does not begin well-formed UTF-8
becomes U+FFFD (Python's strict decoder with surrogateescape marks exactly those bytes, one
lone surrogate each); valid UTF-8 is kept as it is.
"""
import hashlib
import hmac
import os
import sys

BLANKS = b" \t\r\n"
RECORD_PREFIX = b"retention-milter record token v1\0"


def dovecot_json_utf8(value):
    text = value.decode("utf-8", "surrogateescape")
    return "".join("\ufffd" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in text).encode("utf-8")


def without_blanks(value):
    return bytes(c for c in value if c not in BLANKS)


def usable(ident):
    return bool(ident) and all(0x21 <= c != 0x7F and c not in b"<>" for c in ident)


def normalised(value):
    """The id the index keys, or None when the value holds no usable id."""
    value = dovecot_json_utf8(value.split(b"\0", 1)[0]).strip(BLANKS)
    lt = value.find(b"<")
    if lt >= 0:
        gt = value.find(b">", lt + 1)
        if gt < 0:
            return None
        ident = without_blanks(value[lt + 1:gt])
        return ident if usable(ident) else None
    if any(c in BLANKS for c in value):
        return None
    return value if usable(value) else None


def message_id_key(value):
    ident = normalised(value)
    return ident if ident is not None else without_blanks(dovecot_json_utf8(value.split(b"\0", 1)[0]))


def digest(key, kind, value):
    data = message_id_key(value) if kind == "message-id" else RECORD_PREFIX + value
    return hmac.new(key, data, hashlib.sha256).hexdigest().upper()


def main():
    key_file, kind = sys.argv[1], sys.argv[2]
    with open(key_file, "rb") as f:
        key = f.read()
    for value in sys.argv[3:]:
        print(digest(key, kind, os.fsencode(value)))


if __name__ == "__main__":
    main()
