#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing retention-milter need.
# Idempotent and noninteractive: packages already present are left alone, and apt's
# index is refreshed only when something is missing.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config
  libmilter-dev libsqlite3-dev libspdlog-dev libfmt-dev libgtest-dev
  libtomlplusplus-dev libssl-dev libcli11-dev nlohmann-json3-dev libcurl4-openssl-dev libpq-dev
)
# Real peers for the end-to-end tests: the MTA, SMTP client, milter test client, IMAP server;
# clang and its runtime (libFuzzer) for the fuzz harnesses (tests/fuzz); systemd for
# systemd-analyze, which checks the units offline (tests/e2e/test_hardening.sh); PostgreSQL for
# the index's PostgreSQL backend (the tests start a private cluster); Chromium to open the HTML
# report headless as its reader would (tests/e2e/test_report_browser.sh).
TEST_PKGS=(
  postfix swaks miltertest dovecot-imapd dovecot-lmtpd sqlite3 faketime procps iproute2 m4 python3
  clang libclang-rt-14-dev systemd postgresql chromium
)

# scripts/bench.sh: /usr/bin/time -v (peak memory), bc; Postfix brings smtp-source.
BENCH_PKGS=(time bc)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" != "--build-only" ]; then
  want+=("${TEST_PKGS[@]}")
fi
if [ "${1:-}" = "--bench" ]; then
  want+=("${BENCH_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Postfix asks how it should be configured; the tests run their own instance, so the
# system one is left local-only and unstarted by policy-rc.d below.
echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
echo "postfix postfix/mailname string localhost.localdomain" | debconf-set-selections

# Keep package scripts from starting the system's daemons: the tests start their own.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT

# Progress goes to stderr: stdout is left to whoever runs this for an answer.
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
