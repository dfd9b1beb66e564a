#!/usr/bin/env python3
"""smtp_partial_client.py PORT SOURCE-IP ID MODE BASE: an SMTP client that stops in the
middle of DATA, for the fault tests (test_milter_faults.sh's partial_start).

MODE headers: it stops in the header block; body: after half the body. It writes BASE.pid
(the pid of the server process holding the other end of its connection), then waits for
BASE.go: "drop" closes at once with a TCP reset; anything else sends the rest and the dot.
BASE.result gets dropped, 2xx, 4xx, 5xx, eof (the server hung up) or "refused at ...".
"""
import os, socket, struct, sys, time
port, src, ident, mode, base = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.socket()
s.bind((src, 0))
s.connect(("127.0.0.1", port))
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline()
        if not line:
            return "eof"
        if line[3:4] != b"-":
            return line.decode().strip()
def cmd(c):
    s.sendall(c.encode() + b"\r\n")
    r = reply()
    return r
reply()
for c in ("EHLO client.example", "MAIL FROM:<caller@example.net>", "RCPT TO:<info@mensadviceline.test>", "DATA"):
    r = cmd(c)
    if not r[:1] in "23":
        open(base + ".result", "w").write("refused at " + c + ": " + r + "\n"); sys.exit(0)
head = ("From: <caller@example.net>\r\nTo: <info@mensadviceline.test>\r\nSubject: partial\r\n"
        "Message-Id: <%s@example.net>\r\n" % ident)
rest = "X-More: this header comes later\r\n\r\n" + "second half of the body\r\n" * 2000
if mode == "body":
    head += "\r\n" + "first half of the body\r\n" * 2000
s.sendall(head.encode())
time.sleep(0.5)
# The server side of this connection: the process holding the socket whose peer is us.
lport = s.getsockname()[1]
inode = None
for l in open("/proc/net/tcp").read().splitlines()[1:]:
    p = l.split()
    if int(p[1].split(":")[1], 16) == port and int(p[2].split(":")[1], 16) == lport:
        inode = p[9]
pid = ""
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        if any(os.readlink("/proc/%s/fd/%s" % (d, fd)) == "socket:[%s]" % inode for fd in os.listdir("/proc/%s/fd" % d)):
            pid = d
    except OSError:
        pass
open(base + ".pid", "w").write(pid + "\n")
while not os.path.exists(base + ".go"):
    time.sleep(0.05)
what = open(base + ".go").read().strip()
if what == "drop":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    result = "dropped"
else:
    try:
        s.sendall((rest + ".\r\n").encode())
        r = reply()
    except OSError:
        r = "eof"
    result = "eof" if r == "eof" else r[0] + "xx"
open(base + ".result", "w").write(result + "\n")
