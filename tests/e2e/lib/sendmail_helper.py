#!/usr/bin/env python3
"""Test helpers for tests/e2e/lib/sendmail.sh: a syslog listener and an SMTP sink."""
import os, socket, socketserver, sys, threading, time


def write_pid(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(tmp, path)


def syslog(sock_path, log_path, pid_path):
    """Serve a unix datagram socket like /dev/log; one text line per message."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    s.bind(sock_path)
    os.chmod(sock_path, 0o666)
    with open(log_path, "ab", buffering=0) as log:
        write_pid(pid_path)
        while True:
            msg = s.recv(65536).rstrip(b"\0\r\n")
            if msg.startswith(b"<"):  # drop the <priority> prefix
                end = msg.find(b">")
                if 0 < end <= 4:
                    msg = msg[end + 1:]
            log.write(msg.replace(b"\n", b" ") + b"\n")


class Sink(socketserver.StreamRequestHandler):
    """Enough SMTP to take a message from Sendmail's relay mailer and keep it."""
    counter = 0
    lock = threading.Lock()

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        helo, mail, rcpts = "", None, []
        self.reply("220 sink.test ESMTP test sink")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("latin-1").rstrip("\r\n")
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                helo = line[5:].strip()
                if verb == "EHLO":
                    self.reply("250-sink.test")
                    self.reply("250-8BITMIME")
                    self.reply("250 PIPELINING")
                else:
                    self.reply("250 sink.test")
            elif line.upper().startswith("MAIL FROM:"):
                mail, rcpts = line[10:].strip(), []
                self.reply("250 2.1.0 Ok")
            elif line.upper().startswith("RCPT TO:"):
                if mail is None:
                    self.reply("503 5.5.1 MAIL first")
                else:
                    rcpts.append(line[8:].strip())
                    self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if not rcpts:
                    self.reply("503 5.5.1 RCPT first")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    if raw in (b".\r\n", b".\n"):
                        break
                    if raw.startswith(b"."):
                        raw = raw[1:]
                    body.append(raw.rstrip(b"\r\n") + b"\n")
                name = self.store(helo, mail, rcpts, body)
                self.reply(f"250 2.0.0 Ok: queued as {name}")
                mail, rcpts = None, []
            elif verb == "RSET":
                mail, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Command not implemented")

    def store(self, helo, mail, rcpts, body):
        """Write to tmp/, then rename into new/: a reader never sees half a message."""
        with Sink.lock:
            Sink.counter += 1
            n = Sink.counter
        name = f"{time.time_ns()}.P{os.getpid()}Q{n}.sink"
        top = [f"X-Sink-Client: {self.client_address[0]}\n", f"X-Sink-Helo: {helo}\n",
               f"X-Sink-Mail-From: {mail}\n"] + [f"X-Sink-Rcpt-To: {r}\n" for r in rcpts]
        tmp = os.path.join(self.server.dump_dir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write("".join(top).encode("latin-1"))
            f.writelines(body)
        os.rename(tmp, os.path.join(self.server.dump_dir, "new", name))
        return name


def sink(dump_dir, port_path, pid_path):
    for sub in ("tmp", "new"):
        os.makedirs(os.path.join(dump_dir, sub), exist_ok=True)
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Sink)
    server.dump_dir = dump_dir
    with open(port_path + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.rename(port_path + ".tmp", port_path)
    write_pid(pid_path)
    server.serve_forever()


if __name__ == "__main__":
    {"syslog": syslog, "sink": sink}[sys.argv[1]](*sys.argv[2:])
