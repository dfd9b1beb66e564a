#!/usr/bin/env bash
# Fetches Debian's Sendmail packages and unpacks them into a cache folder, WITHOUT
# installing them: sendmail-bin conflicts with postfix, the machine's MTA. The end-to-end
# tests run Sendmail from this unpacked tree as a private test instance
# (tests/e2e/lib/sendmail.sh).
#
# Usage: scripts/fetch-sendmail.sh [CACHE_DIR]
#   CACHE_DIR defaults to $SM_CACHE or /var/cache/retention-milter-tests/sendmail.
#   Prints the cache folder on stdout, and nothing else there: callers capture it with
#   $(...). apt-get's and dpkg's own output goes to stderr. Idempotent: a complete cache is
#   left alone.
#
# Needs root only to write the default cache folder and to run `apt-get update` when the
# download fails because apt's lists are missing or stale (a fresh machine or container).
set -euo pipefail

CACHE="${1:-${SM_CACHE:-/var/cache/retention-milter-tests/sendmail}}"
# The Sendmail daemon and its cf/ macros, plus the Cyrus SASL tools and mechanisms for the
# SMTP AUTH tests (saslpasswd2 writes the sasldb; libsasl2-modules holds PLAIN and LOGIN).
PKGS=(sendmail-bin sendmail-base sendmail-cf sasl2-bin libsasl2-modules)
# The stamp names the package set, so that adding a package later refetches.
STAMP="$CACHE/.fetched-$(printf '%s\n' "${PKGS[@]}" | md5sum | cut -c1-12)"

log() { echo "fetch-sendmail: $*" >&2; }

complete() {
  [ -f "$STAMP" ] &&
    [ -x "$CACHE/root/usr/libexec/sendmail/sendmail" ] &&
    [ -f "$CACHE/root/usr/share/sendmail/cf/m4/cf.m4" ] &&
    [ -x "$CACHE/root/usr/sbin/saslpasswd2" ]
}

download() {
  # apt-get download writes into the current folder, as the _apt user when it can; a
  # folder _apt cannot write makes apt warn and fall back to root, which is fine.
  (cd "$CACHE/debs" && apt-get download -q "${PKGS[@]}")
}

main() {
  # Every tool below writes progress to stdout ("Get:1 ..."); only the path may reach the
  # caller's $(...). fd 3 is the real stdout, everything else goes to stderr.
  exec 3>&1 1>&2
  if complete; then
    echo "$CACHE" >&3
    return 0
  fi
  for tool in apt-get dpkg; do
    command -v "$tool" >/dev/null || { log "$tool not found: this needs Debian"; exit 1; }
  done
  mkdir -p "$CACHE/debs"
  # Tests running in parallel may all find the cache empty: one fetches, the others wait.
  exec 9>"$CACHE/.lock"
  flock 9
  if complete; then
    echo "$CACHE" >&3
    return 0
  fi
  rm -f "$CACHE"/debs/*.deb
  if ! download; then
    # A fresh machine has no package lists; a stale one names versions gone from the mirror.
    log "download failed; refreshing apt's package lists and retrying"
    if [ "$(id -u)" -ne 0 ]; then
      log "apt-get update needs root"
      exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    download
  fi
  # Unpack into a fresh tree, then swap it in, so that an interrupted run never leaves a
  # half-unpacked tree that looks complete.
  rm -rf "$CACHE/root.new"
  mkdir -p "$CACHE/root.new"
  for deb in "$CACHE"/debs/*.deb; do
    dpkg -x "$deb" "$CACHE/root.new"
  done
  rm -rf "$CACHE/root"
  mv "$CACHE/root.new" "$CACHE/root"
  rm -f "$CACHE"/.fetched-*
  touch "$STAMP"
  complete || { log "unpacked tree is incomplete under $CACHE/root"; exit 1; }
  log "unpacked ${PKGS[*]} into $CACHE/root"
  echo "$CACHE" >&3
}

main "$@"
