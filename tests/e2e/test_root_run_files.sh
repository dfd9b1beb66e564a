#!/usr/bin/env bash
# An admin runs retentionctl (hold, release, report, show, import-pending) and
# retention-sweep as root against an index that belongs to the milter's user: every file
# that lands beside the index (the journal's lock, its rejected lines, the sweep lock,
# SQLite's -wal and -shm) must then belong to the index's owner and group, group-writable
# and closed to others, and the daemons' users must still work: the milter's user imports
# a journal (its lock), the mail store's user sweeps (the sweep lock).
# Usage: test_root_run_files.sh RETENTIONCTL RM-TEST-SEED RETENTION-SWEEP. Needs root (77).
set -euo pipefail

CTL=$1
SEED=$2
SWEEP=$3
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib/common.sh
source "$HERE/lib/common.sh"
e2e_begin
require_root "running the programs as root and as other users"
require_tools setpriv sqlite3

# The milter's user owns the index (nobody here); the group the programs share is
# nogroup; the mail store's user is another uid in that group only.
GID=$(getent group nogroup | cut -d: -f3)
MILTER_UID=$(id -u nobody)
SWEEPER_UID=64991
as_milter() { setpriv --reuid="$MILTER_UID" --regid="$GID" --clear-groups "$@"; }
as_sweeper() { setpriv --reuid="$SWEEPER_UID" --regid="$GID" --clear-groups "$@"; }

e2e_workdir T rm-root-files
e2e_scratch_install "$T"
chown "$MILTER_UID:$GID" "$T/state" "$T/etc"
chmod 2770 "$T/state"
chmod 0750 "$T/etc"
chown -R "$SWEEPER_UID:$GID" "$T/vmail" "$T/letters"
chmod 0644 "$T/retention.toml"
INDEX=$T/state/index.sqlite3
d() { date -u -d "$1" +%F; }
MID='<root-run.1@x.example>'

# The milter's user makes the index and key, records a message and journals another.
as_milter "$SEED" "$T/retention.toml" row "$MID" respect-phoneline inbound email "$(d '-1 month')" "$(d '+5 months')"
as_milter "$SEED" "$T/retention.toml" pending '<pending.1@x.example>' respect-phoneline inbound email "$(d today)" "$(d '+6 months')"
as_milter sh -c "printf 'not a journal line\n' >>'$INDEX.pending'"
assert_eq "$MILTER_UID:$GID" "$(stat -c %u:%g "$INDEX")" "the index belongs to the milter's user"

# --- the admin, as root ------------------------------------------------------------------
ctl() { "$CTL" -c "$T/retention.toml" "$@" >"$T/ctl.out" 2>&1 || fail "retentionctl $1 as root" "$(cat "$T/ctl.out")"; }
ctl import-pending
assert_file_contains "$T/ctl.out" "imported 1 row" "retentionctl import-pending as root imports the journal"
ctl hold "$MID" --reason legal --ref CASE-1
ctl release "$MID"
ctl show "$MID"
ctl report
"$SWEEP" -c "$T/retention.toml" >"$T/sweep-root.out" 2>&1 || fail "retention-sweep as root" "$(cat "$T/sweep-root.out")"
# A reader keeps -wal and -shm in place while the listing below is taken.
exec {hold_fd}< <(sqlite3 "$INDEX" 'SELECT count(*) FROM messages;' '.shell sleep 3' 2>/dev/null)

for f in "$INDEX.pending.lock" "$INDEX.pending.rejected" "$INDEX.sweep.lock"; do
  assert_exists "$f" "$(basename "$f") was made by the root run"
done
for f in "$T/state"/*; do
  name=$(basename "$f")
  assert_eq "$MILTER_UID:$GID" "$(stat -c %u:%g "$f")" "$name belongs to the index's owner and group"
  mode=$(stat -c %a "$f")
  if (((8#$mode & 8#060) == 8#060 && (8#$mode & 8#007) == 0)); then
    pass "$name is group-writable and closed to others ($mode)"
  else
    fail "$name is group-writable and closed to others" "mode $mode"
  fi
done
exec {hold_fd}<&-

# --- the daemons' users afterwards ----------------------------------------------------------
as_milter "$SEED" "$T/retention.toml" pending '<pending.2@x.example>' respect-phoneline inbound email "$(d today)" "$(d '+6 months')"
as_milter sh -c "printf 'another bad line\n' >>'$INDEX.pending'"
if as_milter "$CTL" -c "$T/retention.toml" import-pending >"$T/import.out" 2>&1; then
  assert_file_contains "$T/import.out" "imported 1 row" "the milter's user imports the journal (its lock and rejected lines made by root)"
else
  fail "the milter's user imports the journal after a root run" "$(cat "$T/import.out")"
fi
assert_eq 2 "$(grep -c . "$INDEX.pending.rejected")" "both malformed lines are kept"
if as_sweeper "$SWEEP" -c "$T/retention.toml" >"$T/sweep.out" 2>&1; then
  pass "the mail store's user sweeps after a root run (the sweep lock)"
else
  fail "the mail store's user sweeps after a root run" "$(cat "$T/sweep.out")"
fi

e2e_finish
