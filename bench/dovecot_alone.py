#!/usr/bin/env python3
"""Dovecot doing the nightly sweep's work by itself, for scripts/bench.sh (BENCH_ONLY=dovecot):
the floor a doveadm-driven sweep is measured against.

  dovecot_alone.py ids EXPIRED_LIST
      the Message-IDs of the files gen-store listed as expired, one a line (not timed: it
      stands for what the index knows)
  dovecot_alone.py sweep CONF IDS_FILE [--purge] [--hdr] USER_OR_MASK...
      for every user (a mask is listed through Dovecot's user iteration, as the sweeper
      lists staff): `doveadm fetch 'mailbox uid hdr.message-id' all` (--hdr: the whole
      header, `hdr`, what a sweep must read since doveadm's hdr.message-id loses bytes), then
      `doveadm expunge mailbox M uid SET` of the messages whose Message-ID is in IDS_FILE,
      then (--purge, mdbox) `doveadm purge`. Prints users=, fetched= and expunged=.
  dovecot_alone.py count CONF USER_OR_MASK...
      the messages left in every folder of those users
"""
import email.parser
import json
import re
import subprocess
import sys

# One argument may not exceed the kernel's MAX_ARG_STRLEN (128 KiB): UID sets are sent in
# pieces well below it.
MAX_SET = 60000


def doveadm(conf, *args):
    return subprocess.run(["doveadm", "-c", conf, *args], check=True, stdout=subprocess.PIPE).stdout


def users(conf, names):
    out = []
    for name in names:
        if "*" in name or "?" in name:
            out += doveadm(conf, "user", name).decode().split()
        else:
            out.append(name)
    return out


def uid_sets(uids):
    """UIDs as IMAP sets ("1:4,7,9:12"), each under MAX_SET characters."""
    ranges = []
    for uid in sorted(uids):
        if ranges and uid == ranges[-1][1] + 1:
            ranges[-1][1] = uid
        else:
            ranges.append([uid, uid])
    piece = []
    size = 0
    for lo, hi in ranges:
        text = str(lo) if lo == hi else "%d:%d" % (lo, hi)
        if size + len(text) + 1 > MAX_SET and piece:
            yield ",".join(piece)
            piece, size = [], 0
        piece.append(text)
        size += len(text) + 1
    if piece:
        yield ",".join(piece)


def cmd_ids(expired_list):
    parser = email.parser.BytesHeaderParser()
    with open(expired_list) as names:
        for name in names:
            with open(name.rstrip("\n"), "rb") as f:
                mid = parser.parse(f).get("Message-ID")
            if mid:
                print(mid.strip())


def message_id(m, whole_header):
    if not whole_header:
        return m["hdr.message-id"].strip()
    head = re.sub(r"\r?\n[ \t]+", " ", m["hdr"])
    found = re.search(r"(?im)^message-id:[ \t]*(.*?)\r?$", head)
    return found.group(1).strip() if found else ""


def cmd_sweep(conf, ids_file, purge, whole_header, names):
    with open(ids_file) as f:
        expired = set(line.strip() for line in f if line.strip())
    fetched = expunged = 0
    everyone = users(conf, names)
    for user in everyone:
        by_box = {}
        field = "hdr" if whole_header else "hdr.message-id"
        for m in json.loads(doveadm(conf, "-f", "json", "fetch", "-u", user, "mailbox uid " + field, "all")):
            fetched += 1
            if message_id(m, whole_header) in expired:
                by_box.setdefault(m["mailbox"], []).append(int(m["uid"]))
        for box, uids in by_box.items():
            for uid_set in uid_sets(uids):
                doveadm(conf, "expunge", "-u", user, "mailbox", box, "uid", uid_set)
            expunged += len(uids)
        if purge:
            doveadm(conf, "purge", "-u", user)
    print("users=%d fetched=%d expunged=%d" % (len(everyone), fetched, expunged))


def cmd_count(conf, names):
    total = 0
    for user in users(conf, names):
        for box in json.loads(doveadm(conf, "-f", "json", "mailbox", "status", "-u", user, "messages", "*")):
            total += int(box["messages"])
    print(total)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "ids":
        cmd_ids(args[0])
    elif cmd == "sweep":
        purge, whole_header = "--purge" in args, "--hdr" in args
        args = [a for a in args if a not in ("--purge", "--hdr")]
        cmd_sweep(args[0], args[1], purge, whole_header, args[2:])
    elif cmd == "count":
        cmd_count(args[0], args[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
