#!/usr/bin/env bash
# scripts/fetch-sendmail.sh prints the unpacked cache's path and nothing else on stdout,
# whatever apt-get and dpkg print: the Sendmail tests take that output as a path. Stub
# apt-get and dpkg, first in PATH, chat on stdout as the real ones do on a machine whose
# package cache is empty ("Get:1 ...") or whose package lists are missing ("Hit:1 ...").
# Runs without root; the retry through `apt-get update` is checked only as root.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib/common.sh
source "$HERE/lib/common.sh"
e2e_begin
FETCH="$HERE/../../scripts/fetch-sendmail.sh"

e2e_workdir WORK rm-fetch-sendmail
mkdir -p "$WORK/bin"
# apt-get download PKG...: progress on stdout, a .deb per package in the current folder.
# With $WORK/fail-once present, the first download fails as on a machine without lists.
cat >"$WORK/bin/apt-get" <<SH
#!/bin/sh
case "\$1" in
  update) echo "Hit:1 http://deb.debian.org/debian bookworm InRelease"; echo "Reading package lists..." ;;
  download)
    shift
    if [ -e "$WORK/fail-once" ]; then
      rm -f "$WORK/fail-once"
      echo "E: Can't select candidate version from package \$1 as it has no candidate" >&2
      exit 100
    fi
    n=0
    for p in "\$@"; do
      case "\$p" in -*) continue ;; esac
      n=\$((n + 1))
      echo "Get:\$n http://deb.debian.org/debian bookworm/main amd64 \$p 1.0 [1 kB]"
      : >"\${p}_1.0_all.deb"
    done
    echo "Fetched \$n kB in 0s (1 kB/s)"
    ;;
  *) echo "stub apt-get: unexpected \$*" >&2; exit 1 ;;
esac
SH
# dpkg -x DEB DIR: the files the cache check looks for, and a line on stdout.
cat >"$WORK/bin/dpkg" <<'SH'
#!/bin/sh
[ "$1" = -x ] || { echo "stub dpkg: unexpected $*" >&2; exit 1; }
echo "unpacking $2"
mkdir -p "$3/usr/libexec/sendmail" "$3/usr/share/sendmail/cf/m4" "$3/usr/sbin"
: >"$3/usr/share/sendmail/cf/m4/cf.m4"
for f in "$3/usr/libexec/sendmail/sendmail" "$3/usr/sbin/saslpasswd2"; do
  printf '#!/bin/sh\n' >"$f"
  chmod 755 "$f"
done
SH
chmod 755 "$WORK/bin/apt-get" "$WORK/bin/dpkg"

# fetch CACHE: runs the script with the stubs; its stdout in $OUT, its stderr in $ERR.
OUT="" ERR=""
fetch() {
  local rc=0
  OUT=$(PATH="$WORK/bin:$PATH" "$FETCH" "$1" 2>"$WORK/stderr") || rc=$?
  ERR=$(cat "$WORK/stderr")
  return "$rc"
}

cache="$WORK/cache-fresh"
if fetch "$cache"; then
  assert_eq "$cache" "$OUT" "an empty cache: stdout is the cache's path alone, not apt-get's progress"
  assert_cmd "apt-get's progress is shown on stderr" grep -q '^Get:1 ' <<<"$ERR"
  assert_cmd "the stub packages were unpacked" test -x "$cache/root/usr/libexec/sendmail/sendmail"
else
  fail "fetch-sendmail.sh fills an empty cache" "$ERR"
fi

if fetch "$cache"; then
  assert_eq "$cache" "$OUT" "a complete cache: stdout is the cache's path alone"
else
  fail "fetch-sendmail.sh with a complete cache" "$ERR"
fi

if [ "$(id -u)" -eq 0 ]; then
  cache="$WORK/cache-nolists"
  : >"$WORK/fail-once"
  if fetch "$cache"; then
    assert_eq "$cache" "$OUT" "no package lists: after apt-get update, stdout is the cache's path alone"
    assert_cmd "apt-get update's output is shown on stderr" grep -q '^Hit:1 ' <<<"$ERR"
  else
    fail "fetch-sendmail.sh retries after apt-get update" "$ERR"
  fi
fi

e2e_finish
