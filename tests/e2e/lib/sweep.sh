# shellcheck shell=bash
# The sweeper end to end: mail through a real Postfix and the real milter into real Maildirs,
# then the real retention-sweep as the mail store's user. Sourcing this file sources
# common.sh, postfix.sh and milter.sh too; the test's arguments are
# PATH/TO/retention-milter PATH/TO/retention-sweep.
#
#   sweep_e2e_begin PREFIX ARGS... -- TOOL...
#                      e2e_begin, root and the TOOLs required; MILTER and SWEEP from ARGS; a
#                      test folder in W (/tmp/PREFIX.XXXXXX); the milter and Postfix wired to
#                      it, stopped at exit; the index shared with the mail store's group.
#                      Sets RETAIN (the date of mail passing today), DAY_BEFORE, DAY_AFTER,
#                      SHARED (respect-phoneline's shared mailbox) and ALICE (a staff member's),
#                      and SWEEP_TAG, a word unique to this run (for Message-IDs and tokens).
#   sweep_tokens NAME  the words only test message NAME carries, its subject's and its body's
#                      ("subject-NAME-TAG body-NAME-TAG"), to look for any trace of it
#   sweep_deliver NAME MESSAGE-ID RECIPIENTS
#                      a message from caller@outside.example, sent by an outside client
#                      (127.0.0.2) through Postfix's port (and so the milter) to RECIPIENTS
#                      (comma-separated), with Message-ID <MESSAGE-ID> and NAME's tokens
#   sweep_config TOML...
#                      writes $W/sweep/retention.toml (readable by the mail store's user): the
#                      index, the log $W/sweep/sweep.log at SWEEP_LOG_LEVEL (default info),
#                      the two test lines, then the TOML lines given ([sweep], mailboxes...).
#                      RM_INDEX_TOML (TOML lines) is added to [index], as for the milter.
#   sweep_mailbox PATH KIND [LINE]
#                      one [[sweep.mailbox]] for sweep_config's TOML
#   sweep_dovecot_mailbox USER KIND [LINE]
#                      one [[sweep.mailbox]] with store = "dovecot": USER is a Dovecot user
#                      (shared) or a user mask (personal)
#   sweep_dovecot_local [NAME]
#                      one [[sweep.dovecot]]: the local doveadm on the harness's Dovecot
#                      (config_file = PF_DOVECOT_CONF), named NAME (default "local")
#   sweep_at WHEN [ARG...]
#                      the sweeper under faketime WHEN ("YYYY-MM-DD HH:MM:SS") with --json and
#                      the ARGs, as the mail store's user (SWEEP_AS=root: as root, as the
#                      local doveadm needs), from SWEEP_CWD (default /): exit code
#                      in SWEEP_RC, summary in $W/sweep/out.json, stderr in $W/sweep/err.
#                      SWEEP_NO_FAKE_STAT=1: file times as they are (libfaketime would shift
#                      them by the faked offset). SWEEP_TMPDIR: its TMPDIR
#   sweep_json EXPR    a Python expression over the summary d, printed
#   sweep_show_failure shows err and the summary when the last assertion failed
#   sweep_writes_nothing_of WHEN NEEDLE...
#                      asserts that the summary, stderr and the sweep log hold none of the
#                      NEEDLEs (WHEN names the moment in the assertion)
#   sweep_ctl_at WHEN ARGS...
#                      retentionctl (CTL) on the sweep's config under faketime WHEN, as the
#                      admin ADMIN through sudo (SUDO_USER): exit status in CTL_RC, output
#                      in $W/ctl.out
#   sweep_index_names_nothing NEEDLE...
#                      asserts that the index (RM_INDEX), its WAL and shm hold none of the
#                      NEEDLEs (addresses, subjects, Message-IDs)

_SWEEP_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/common.sh
. "$_SWEEP_LIB_DIR/common.sh"
# shellcheck source=SCRIPTDIR/postfix.sh
. "$_SWEEP_LIB_DIR/postfix.sh"
# shellcheck source=SCRIPTDIR/milter.sh
. "$_SWEEP_LIB_DIR/milter.sh"

sweep_e2e_begin() {
  local prefix=$1
  shift
  MILTER=${1:?usage: $0 PATH/TO/retention-milter PATH/TO/retention-sweep}
  SWEEP=${2:?usage: $0 PATH/TO/retention-milter PATH/TO/retention-sweep}
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do shift; done
  [ "$#" -eq 0 ] || shift
  e2e_begin
  require_root
  require_tools swaks sqlite3 python3 setpriv "$@"
  e2e_workdir W "$prefix"
  at_exit pf_stop
  at_exit rm_milter_stop
  rm_milter_start "$W" "$MILTER"
  pf_start "$W" "$RM_SOCKET"
  rm_share_index "$PF_MAIL_GID"
  RETAIN=$(rm_retain_date 6)
  DAY_BEFORE=$(date -d "$RETAIN -1 day" +%F)
  DAY_AFTER=$(date -d "$RETAIN +1 day" +%F)
  SHARED=$PF_MAIL_DIR/respectphoneline.test/info
  ALICE=$PF_MAIL_DIR/respect.test/alice
  SWEEP_TAG="$$-$RANDOM"
}

sweep_tokens() { echo "subject-$1-$SWEEP_TAG" "body-$1-$SWEEP_TAG"; }

sweep_deliver() {
  local words
  read -r -a words <<<"$(sweep_tokens "$1")"
  swaks --silent 2 --server "127.0.0.1:$PF_PORT" --local-interface 127.0.0.2 --helo client.example \
    --from caller@outside.example --to "$3" --header "Message-Id: <$2>" \
    --header "Subject: Help ${words[0]}" --body "Please help (${words[1]})."
}

sweep_config() {
  mkdir -p "$W/sweep"
  chown "$PF_MAIL_UID:$PF_MAIL_GID" "$W/sweep"
  {
    printf '[index]\npath = "%s"\nkey_file = "%s"\n' "$RM_INDEX" "$RM_KEY"
    [ -z "${RM_INDEX_TOML:-}" ] || printf '%s\n' "$RM_INDEX_TOML"
    printf '[log]\nsink = "file:%s"\nlevel = "%s"\n' "$W/sweep/sweep.log" "${SWEEP_LOG_LEVEL:-info}"
    rm_line_toml
    printf '%s\n' "$@"
  } >"$W/sweep/retention.toml"
  chmod 0644 "$W/sweep/retention.toml"
}

sweep_mailbox() {
  printf '[[sweep.mailbox]]\npath = "%s"\nkind = "%s"\n' "$1" "$2"
  [ -z "${3:-}" ] || printf 'line = "%s"\n' "$3"
}

sweep_dovecot_mailbox() {
  printf '[[sweep.mailbox]]\nstore = "dovecot"\nuser = "%s"\nkind = "%s"\n' "$1" "$2"
  [ -z "${3:-}" ] || printf 'line = "%s"\n' "$3"
}

sweep_dovecot_local() {
  printf '[[sweep.dovecot]]\nname = "%s"\ndoveadm = "%s"\nconfig_file = "%s"\n' \
    "${1:-local}" "$(command -v doveadm)" "$PF_DOVECOT_CONF"
}

sweep_at() {
  local when=$1 env=() as=(pf_as_mail)
  shift
  [ "${SWEEP_NO_FAKE_STAT:-0}" != 1 ] || env=(NO_FAKE_STAT=1)
  [ -z "${SWEEP_TMPDIR:-}" ] || env+=(TMPDIR="$SWEEP_TMPDIR")
  [ "${SWEEP_AS:-mail}" != root ] || as=()
  SWEEP_RC=0
  (cd "${SWEEP_CWD:-/}" && "${as[@]}" env "${env[@]}" faketime "$when" "$SWEEP" -c "$W/sweep/retention.toml" \
    --json "$@" >"$W/sweep/out.json" 2>"$W/sweep/err") || SWEEP_RC=$?
}

sweep_json() {
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$W/sweep/out.json" "$1"
}

sweep_show_failure() { last_assert_ok || cat "$W/sweep/err" "$W/sweep/out.json" >&2; }

sweep_writes_nothing_of() {
  local when=$1 f p found=""
  shift
  for f in "$W/sweep/out.json" "$W/sweep/err" "$W/sweep/sweep.log"; do
    for p in "$@"; do
      if grep -qF -- "$p" "$f" 2>/dev/null; then found+="$(basename "$f") names $p; "; fi
    done
  done
  assert_eq "" "$found" "$when: the summary, stderr and log name no address, subject or Message-ID"
}

sweep_ctl_at() {
  local when=$1
  shift
  CTL_RC=0
  SUDO_USER=$ADMIN faketime "$when" "$CTL" -c "$W/sweep/retention.toml" "$@" >"$W/ctl.out" 2>&1 || CTL_RC=$?
}

sweep_index_names_nothing() {
  local leaks="" file needle
  sync
  for file in "$RM_INDEX" "$RM_INDEX-wal" "$RM_INDEX-shm"; do
    [ -e "$file" ] || continue
    for needle in "$@"; do
      grep -aqF -- "$needle" "$file" && leaks+="'$needle' in $(basename "$file"); "
    done
  done
  assert_eq "" "$leaks" "the index, its WAL and shm hold no address, subject or Message-ID"
}
