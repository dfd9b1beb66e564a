# shellcheck shell=bash
# Small assertion and housekeeping helpers for the end-to-end test scripts (bash, sourced).
#
#   e2e_begin                      call once, first: installs the EXIT/ERR traps that run the
#                                  cleanups and print the summary as the script's last line
#   at_exit CMD [ARG...]           registers a cleanup; cleanups run last-registered first
#   e2e_workdir VAR PREFIX         makes a fresh folder /tmp/PREFIX.XXXXXX (mode 0755, so the
#                                  daemons' users can reach it) and stores its path in VAR;
#                                  removed at exit unless something failed or KEEP=1. Not in
#                                  $(...): the cleanup would be registered in a subshell
#   e2e_finish                     ends the script: exit 0 when nothing failed, else 1
#   e2e_skip REASON                ends the script as skipped (exit 77, the automake/ctest code)
#   require_root, require_tools T… skip (root) or fail (missing tool) early
#
#   pass MSG / fail MSG [DETAIL]   count one result (DETAIL: extra lines shown on failure)
#   last_assert_ok                 status of the most recent pass/fail/assert_* (0 = passed)
#   assert_eq EXPECTED ACTUAL MSG
#   assert_ne UNEXPECTED ACTUAL MSG
#   assert_cmd MSG CMD [ARG...]    passes when CMD succeeds (run in a subshell: what it sets
#                                  is lost; its output is shown on failure)
#   assert_not_cmd MSG CMD [ARG...] passes when CMD fails
#   assert_exists PATH [MSG]
#   assert_file_contains FILE STRING [MSG]      fixed string, anywhere in FILE
#   assert_file_not_contains FILE STRING [MSG]
#   assert_file_matches FILE ERE [MSG]          extended regex, line by line
#   assert_header FILE NAME EXPECTED [MSG]      one header of a message file equals EXPECTED
#   assert_no_header FILE NAME [MSG]
#   mail_header FILE NAME          prints each value of header NAME (case-insensitive,
#                                  unfolded, leading blanks and CR dropped), header block only
#   wait_for TIMEOUT CMD [ARG...]  polls CMD every 0.1 s until it succeeds (0) or TIMEOUT
#                                  seconds pass (1); not an assertion. The one way the tests
#                                  wait for something: no fixed sleeps
#   wait_until TIMEOUT 'TEST'      wait_for for a test string with $(...) in it
#   free_ports N                   N distinct TCP ports nothing listens on, one a line
#   port_listening PORT            status 0 when something listens on TCP PORT
#   e2e_python                     the python3 to run the helper programs in this folder with
#
# The milter with extra TOML is started by rm_milter_start (milter.sh); the Message-ID
# digest the index keys is rm_digest (milter.sh), one oracle for every test.
#
# Assertions never return non-zero, so a failing check does not end a `set -e` script: the
# script goes on, and the summary counts it. Use `last_assert_ok` (or the wait_for status)
# to skip checks that make no sense after a failure. If the script dies of an unexpected
# error, the exit trap counts that as a failure, says where, runs the cleanups, and still
# prints "N passed, N failed" last.

E2E_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
E2E_PASSED=0
E2E_FAILED=0
E2E_LAST=0
E2E_FINISHING=0
E2E_ERR_WHERE=""
E2E_CLEANUPS=()

pass() {
  E2E_PASSED=$((E2E_PASSED + 1))
  E2E_LAST=0
  echo "ok   - $1"
}

fail() {
  E2E_FAILED=$((E2E_FAILED + 1))
  E2E_LAST=1
  echo "FAIL - $1" >&2
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" | sed 's/^/       /' >&2; fi
  return 0
}

last_assert_ok() { return "$E2E_LAST"; }

e2e_summary() { echo "$E2E_PASSED passed, $E2E_FAILED failed"; }

assert_eq() {
  if [ "$1" = "$2" ]; then pass "$3"; else fail "$3" "expected: '$1'"$'\n'"actual:   '$2'"; fi
}

assert_ne() {
  if [ "$1" != "$2" ]; then pass "$3"; else fail "$3" "got the unwanted value '$2'"; fi
}

assert_cmd() {
  local msg=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ]; then pass "$msg"; else fail "$msg" "command failed ($rc): $*"$'\n'"$out"; fi
}

assert_not_cmd() {
  local msg=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ]; then pass "$msg"; else fail "$msg" "command succeeded: $*"$'\n'"$out"; fi
}

assert_exists() {
  if [ -e "$1" ]; then pass "${2:-$1 exists}"; else fail "${2:-$1 exists}" "no such file"; fi
}

# MSG FILE WANT OPTION PATTERN: WANT is "found" or "absent"; OPTION is grep's -F or -E.
_assert_file_grep() {
  local msg=$1 file=$2 want=$3 opt=$4 pat=$5 got=absent
  if [ ! -f "$file" ]; then
    fail "$msg" "no such file: $file"
    return 0
  fi
  if grep -q "$opt" -- "$pat" "$file"; then got=found; fi
  if [ "$got" = "$want" ]; then
    pass "$msg"
  elif [ "$want" = absent ]; then
    fail "$msg" "found in $file: $(grep -n -m 3 "$opt" -- "$pat" "$file")"
  else
    fail "$msg" "'$pat' not found in $file; its first lines:"$'\n'"$(head -n 20 "$file")"
  fi
}

assert_file_contains() { _assert_file_grep "${3:-"$1 contains '$2'"}" "$1" found -F "$2"; }
assert_file_not_contains() { _assert_file_grep "${3:-"$1 does not contain '$2'"}" "$1" absent -F "$2"; }
assert_file_matches() { _assert_file_grep "${3:-"$1 matches /$2/"}" "$1" found -E "$2"; }

# The header block ends at the first empty line (CRLF files too: smtp-sink keeps what the
# client sent). Folded lines (starting with a blank) continue the previous header.
mail_header() {
  local file=$1 name=$2
  awk -v want="$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]')" '
    { sub(/\r$/, "") }
    /^$/ { exit }
    /^[ \t]/ { if (cur == want) val = val " " substr($0, match($0, /[^ \t]/)); next }
    {
      if (cur == want) print val
      i = index($0, ":"); cur = tolower(substr($0, 1, i - 1)); val = substr($0, i + 1)
      sub(/^[ \t]+/, "", val)
    }
    END { if (cur == want) print val }
  ' "$file"
}

assert_header() {
  local file=$1 name=$2 want=$3 msg=${4:-"$2: $3 in $(basename "$1")"} got
  if [ ! -f "$file" ]; then
    fail "$msg" "no such file: $file"
    return 0
  fi
  got=$(mail_header "$file" "$name")
  assert_eq "$want" "$got" "$msg"
}

assert_no_header() {
  local file=$1 name=$2 msg=${3:-"no $2 header in $(basename "$1")"} got
  if [ ! -f "$file" ]; then
    fail "$msg" "no such file: $file"
    return 0
  fi
  got=$(mail_header "$file" "$name")
  if [ -z "$got" ] && ! grep -qiE "^$name:" <(sed '/^\r\{0,1\}$/q' "$file"); then
    pass "$msg"
  else
    fail "$msg" "found: $got"
  fi
}

# The deadline is wall-clock time (not a count of tries, which a loaded machine stretches
# or shrinks), and CMD is tried once more when it has passed.
wait_for() {
  local timeout=$1 deadline
  shift
  deadline=$((${EPOCHREALTIME/./} + timeout * 1000000))
  while :; do
    "$@" >/dev/null 2>&1 && return 0
    [ "${EPOCHREALTIME/./}" -lt "$deadline" ] || break
    sleep 0.1
  done
  "$@" >/dev/null 2>&1
}

# wait_until TIMEOUT 'TEST': like wait_for, for a test with command substitutions in it. It
# is a string, evaluated again on every try: given to wait_for, "$(...)" would be expanded
# once, before the first try, and the wait would never see anything change.
wait_until() {
  local _wu_timeout=$1
  shift
  wait_for "$_wu_timeout" eval "$1"
}

at_exit() {
  local cmd
  printf -v cmd '%q ' "$@"
  E2E_CLEANUPS+=("$cmd")
}

_e2e_on_err() {
  # With errexit, the ERR trap fires exactly where the script is about to die: remember it.
  E2E_ERR_WHERE="${BASH_SOURCE[1]:-?}:${BASH_LINENO[0]:-?}: $BASH_COMMAND"
}

_e2e_on_exit() {
  local rc=$? i
  set +e
  trap - ERR
  if [ "$E2E_FINISHING" != 1 ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
    fail "the script ended early with status $rc" "${E2E_ERR_WHERE:-}"
  fi
  for ((i = ${#E2E_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${E2E_CLEANUPS[i]}"
  done
  e2e_summary
  if [ "$rc" -eq 77 ] && [ "$E2E_FAILED" -eq 0 ]; then exit 77; fi
  if [ "$E2E_FAILED" -gt 0 ]; then exit 1; fi
  exit "$rc"
}

# The faketime wrapper names a semaphore and a shared-memory file after its pid, and fails
# ("faketime: sem_open: File exists") where a wrapper of the same pid was killed earlier and
# left them behind: with pids reused, any later test could meet one. Those of wrappers no
# longer running are removed.
_e2e_clear_stale_faketime() {
  local f pid
  for f in /dev/shm/sem.faketime_sem_* /dev/shm/faketime_shm_*; do
    [ -e "$f" ] || continue
    pid=${f##*_}
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = faketime ] || rm -f "$f"
  done
}

e2e_begin() {
  _e2e_clear_stale_faketime
  set -E
  trap _e2e_on_err ERR
  trap _e2e_on_exit EXIT
  # Killed or interrupted: exit through the EXIT trap, so the daemons are still stopped.
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

e2e_finish() {
  E2E_FINISHING=1
  if [ "$E2E_FAILED" -gt 0 ]; then exit 1; fi
  if [ "$E2E_PASSED" -eq 0 ]; then
    fail "no check ran"
    exit 1
  fi
  exit 0
}

e2e_skip() {
  E2E_FINISHING=1
  echo "skipped: $1" >&2
  exit 77
}

require_root() {
  [ "$(id -u)" -eq 0 ] || e2e_skip "${1:-this test} needs root"
}

require_tools() {
  local t missing=()
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    fail "tools installed: ${missing[*]} (scripts/install-deps.sh installs them)"
    E2E_FINISHING=1
    exit 1
  fi
}

_e2e_remove_workdir() {
  local dir=$1
  if [ "${KEEP:-0}" = 1 ] || [ "$E2E_FAILED" -gt 0 ]; then
    echo "test folder kept: $dir" >&2
  else
    rm -rf -- "$dir"
  fi
}

e2e_workdir() {
  local _dir
  _dir=$(mktemp -d "/tmp/${2:-e2e}.XXXXXX")
  # mktemp makes 0700; Postfix, Dovecot and the mail user must be able to enter it.
  chmod 0755 "$_dir"
  at_exit _e2e_remove_workdir "$_dir"
  printf -v "$1" '%s' "$_dir"
}


# Debian's interpreter when present: a pyenv shim in PATH is slow and may be another version.
e2e_python() {
  if [ -x /usr/bin/python3 ]; then echo /usr/bin/python3; else command -v python3; fi
}

# Ports listening on TCP now, in decimal, from /proc (no ss/netstat needed).
listening_ports() {
  # Plain awk (Debian's mawk has no strtonum): state 0A is LISTEN, the port is in hex.
  awk 'function hex(s,  i, n) {
         n = 0
         for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1
         return n
       }
       FNR > 1 && $4 == "0A" { split($2, a, ":"); print hex(a[2]) }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -un
}

port_listening() { listening_ports | grep -qx "$1"; }

# N distinct TCP ports that nothing listens on, one a line. They are drawn below the kernel's
# ephemeral range (32768+) so outgoing connections do not take them before a daemon binds.
free_ports() {
  local n=${1:-1} used port picked=" "
  used=" $(listening_ports | tr '\n' ' ') "
  while [ "$n" -gt 0 ]; do
    port=$((20000 + RANDOM % 12000))
    case "$used$picked" in *" $port "*) continue ;; esac
    picked+="$port "
    echo "$port"
    n=$((n - 1))
  done
}

# e2e_scratch_install DIR [SED-ARG...]: the folders of an install under DIR (state, etc,
# sock, letters, and Maildirs vmail/staff/alice, vmail/respect/info, vmail/mens/info) and
# DIR/retention.toml: the example config with every path moved under DIR and its log on
# stderr; the SED-ARGs (-e EXPR...) edit it further.
e2e_scratch_install() {
  local dir=$1 repo
  shift
  repo=$(cd "$E2E_LIB_DIR/../../.." && pwd)
  mkdir -p "$dir/state" "$dir/etc" "$dir/sock" "$dir/letters" "$dir/vmail/staff/alice"/{cur,new,tmp} \
    "$dir/vmail/respect/info"/{cur,new,tmp} "$dir/vmail/mens/info"/{cur,new,tmp}
  sed -e "s|unix:/var/spool/postfix/retention-milter/milter.sock|unix:$dir/sock/milter.sock|" \
    -e "s|/var/lib/retention-milter|$dir/state|" \
    -e "s|/etc/retention-milter|$dir/etc|" \
    -e "s|/var/mail/vmail/respectphoneline.org.uk/info|$dir/vmail/respect/info|" \
    -e "s|/var/mail/vmail/mensadviceline.org.uk/info|$dir/vmail/mens/info|" \
    -e "s|/var/mail/vmail/respect.org.uk/\*|$dir/vmail/staff/*|" \
    -e "s|/srv/helpline/letter-responses|$dir/letters|" \
    -e "s|^sink = \"syslog\"|sink = \"stderr\"|" \
    "$@" "$repo/conf/retention.toml" >"$dir/retention.toml"
}
