// The text of `retentionctl --help` and of each subcommand's --help: the manual an
// admin reads at the terminal. Kept in one place so it reads as one document.
#pragma once

namespace rm::ctl::help {

inline constexpr const char* kOverview =
    "retentionctl: the admin tool of retention-milter.\n"
    "Checks the config and the system, shows what the retention index knows of a message,\n"
    "places and lifts holds, reports on retention and the sweeper, and writes the public\n"
    "retention statement. Run 'retentionctl COMMAND --help' for each command's manual.";

inline constexpr const char* kFooter =
    "Message-IDs: paste the value of the message's Message-ID header as your mail client shows it\n"
    "(\"view source\" / \"show all headers\"), with or without <angle brackets> and spaces, in\n"
    "quotes: retentionctl show '<20260301.abc@mail.example.org>'. The index stores only a keyed\n"
    "digest of it; retentionctl never prints the Message-ID back.\n"
    "\n"
    "Access: the index, its key and its folder belong to the group the three programs share\n"
    "(usually 'retention'). Run retentionctl as a member of that group, or through sudo.\n"
    "Holds and releases are recorded with the Unix user who made them: the invoking user,\n"
    "or under sudo the user who ran sudo (SUDO_USER).\n"
    "\n"
    "Exit status: 0 success; 1 runtime failure (no index, unknown message, already held,\n"
    "not held, index error); 2 bad usage or bad config (the message names the file, line,\n"
    "key and what is wrong), and 'check' finding any error.\n"
    "\n"
    "Files: " RM_DEFAULT_CONFIG " (default config; -c PATH for another).\n"
    "See also: retention-milter(8), retention-sweep(8), README.md.";

inline constexpr const char* kCheck =
    "Validate the config and the system it describes: one 'ok:', 'warning:' or 'error:' line per\n"
    "finding, each saying what to change.\n"
    "Checks: the config loads (else one error naming file, line and key); each line's policy;\n"
    "that each line has a shared mailbox to sweep; the index folder (exists, not open to others,\n"
    "setgid, group-writable, the milter's user in its group); the index, WAL, shm and pending\n"
    "journal modes and group; that the index opens read-only; the key file (present when an\n"
    "index exists, not readable by others, accepted for the index); the socket (for unix sockets,\n"
    "that its folder exists, and the path Postfix's chrooted smtpd must use); that milter.user and\n"
    "milter.socket_group exist; each [[sweep.mailbox]] (exists, or its glob matches; is Maildir++);\n"
    "each [[sweep.files]] folder (exists, not open to others); the metrics_file folder; the\n"
    "after_mailbox program; and whether the mail server's logs (logrotate's mail.log, the systemd\n"
    "journal) are kept longer than the shortest line policy, with the setting to change.\n"
    "Exit status: 0 no errors (warnings allowed); 2 any error, in the config or in what it names;\n"
    "1 the check itself could not run. Never creates the index or the key.";

inline constexpr const char* kShow =
    "Show what the index knows of a message: for every time it passed the milter, its line,\n"
    "direction, policy, the date it passed, its retention date (the first day it may be\n"
    "destroyed) and its state (kept, due, held or destroyed, with time and copies), then its\n"
    "hold and earlier holds (reason, reference, who placed and released it, when).\n"
    "Nothing else is stored: no address, subject or Message-ID. A message destroyed more than\n"
    "[index] digest_grace ago cannot be found any more, by design.\n"
    "Exit status: 0 found; 1 not in the index (or no index); 2 no usable Message-ID given.\n"
    "--json prints the same as JSON ({\"found\": false, ...} when not found).";

inline constexpr const char* kHold =
    "Place a hold: every copy of the message is kept past its retention date until the hold is\n"
    "released (the policy allows information to be kept when a child or adult is at risk).\n"
    "--reason must be one of the config's [holds] reasons; --ref, optional, is a case reference\n"
    "of 1 to 32 letters, digits and hyphens (free text would end up holding names).\n"
    "Recorded with the time and the Unix user: the invoking user, or when root runs it through\n"
    "sudo, the user who ran sudo (SUDO_USER).\n"
    "Exit status: 0 held; 1 unknown message, already held (release it first to change the\n"
    "reason), or every copy already destroyed; 2 bad reason, bad reference or no Message-ID.\n"
    "Example: retentionctl hold '<abc@mail.example.org>' --reason safeguarding --ref SG-2026-0142";

inline constexpr const char* kRelease =
    "Release a message's hold. It is then destroyed by the first sweep on or after its\n"
    "retention date (the next sweep, if that date has passed). Recorded with the time and the\n"
    "Unix user. The hold stays in the message's history ('show').\n"
    "Exit status: 0 released; 1 unknown message or not held; 2 no usable Message-ID.";

inline constexpr const char* kReport =
    "Report: records by line, direction and state; how many reach their retention date in the\n"
    "next 7 and 30 days; records past their date not yet destroyed; the holds in force (reason,\n"
    "reference, kind, who or which hold folder placed them, age); the last sweep and its result,\n"
    "and the last successful one (ended 0 or 4). A 'warning:' line says when the sweeper has\n"
    "fallen behind: no successful sweep for two days, records past their date still not\n"
    "destroyed, or a last sweep that failed or stopped for safety.\n"
    "--format text (default), json (for monitoring: see \"behind\" and \"warnings\"; --json is the\n"
    "same) or html: a self-contained page to mail from cron (inline style, loads nothing, every\n"
    "value escaped). No format names a person who wrote, an address, a subject or a Message-ID.\n"
    "Reads the index only. Exit status 0 even with warnings; 1 when there is no index; 2 an\n"
    "unknown --format. README.md has a cron job that mails the html page to a team leader.";

inline constexpr const char* kStatement =
    "Write the public retention statement, generated from this config so it always matches what\n"
    "the milter and the sweeper enforce: for each line by its display name, how long emails and\n"
    "replies are kept, how long electronic copies of responses to letters are kept ([[sweep.files]]),\n"
    "where copies are kept, that they are destroyed securely, when a message may be kept longer\n"
    "([holds] reasons), and that nobody can learn from the helplines' systems whether a person\n"
    "made contact. Contains no address, host name or path.\n"
    "--format markdown (default), html (a complete page, escaped) or text.";

inline constexpr const char* kImportPending =
    "Import the pending journal ([index] pending_journal, by default <index>.pending), where the\n"
    "milter keeps rows it could not write to the index when on_index_error = \"accept\", into the\n"
    "index, then empty it. The milter also does this at each start. Safe to run at any time;\n"
    "running it twice imports nothing twice.";

inline constexpr const char* kUpgradeIndex =
    "Make the index when there is none, or migrate its schema to this version's, and check the\n"
    "key. With a PostgreSQL index this is the only command that makes or changes the schema: run\n"
    "it as the admin once on a new database (it makes the key file too when there is none: copy\n"
    "it to every host), and once after each upgrade of the package, before the milters start.\n"
    "An existing key file is recorded as a new index's key; a key file that is not the index's\n"
    "key is refused. With SQLite it does what the milter does at its first start. Safe to run\n"
    "again: it says what it did (created, migrated from N to M, already current).";

inline constexpr const char* kMigrateIndex =
    "Copy the SQLite index at [index] path into the PostgreSQL database of [index] conninfo (its\n"
    "schema is made when it has none), in one transaction: messages, holds, receipts, settings\n"
    "and when each [[sweep.files]] file was first seen, with their ids. The copy is compared\n"
    "with the original (every row, and the receipt chain's end) before it commits; a database\n"
    "that already holds rows is refused. The scan cache is not copied. Stop retention-milter\n"
    "and the sweep timer first; run it while [index] backend is still \"sqlite\", then set\n"
    "backend = \"postgresql\" and start the milter. The SQLite file is left as it was.";

}  // namespace rm::ctl::help
