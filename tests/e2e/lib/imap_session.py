#!/usr/bin/env python3
"""imap_session.py PORT USER PASSWORD STATEMENTS: logs in to the test Dovecot on
127.0.0.1:PORT, runs the Python STATEMENTS with M the logged-in imaplib connection (as a
staff member's mail client would act), then logs out. A failed assert exits non-zero."""
import imaplib
import sys

M = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
M.login(sys.argv[2], sys.argv[3])
exec(sys.argv[4])
M.logout()
