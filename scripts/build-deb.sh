#!/usr/bin/env bash
# Builds the Debian package (debian/, debhelper) from the committed tree: `git archive`
# of HEAD into a scratch folder, its build dependencies installed with apt, then
# dpkg-buildpackage (which runs the unit tests) and lintian (a warning or an error fails
# the build). Leaves retention-milter_VERSION_ARCH.deb in dist/ (--out DIR), replacing
# any retention-milter .deb there. Run as root on Debian 12.
# Usage: scripts/build-deb.sh [--out DIR] [--version VERSION] [--keep]
#   --version VERSION   build as VERSION (a changelog entry is added in the scratch copy
#                       only), e.g. 0.1.0+local1 to try an upgrade over the committed one
#   --keep              keep the scratch folder (the build tree, lintian's input) and say where
# DEB_BUILD_OPTIONS is passed on (default parallel=$(nproc)); nocheck skips the tests.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/dist
VERSION=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=${2:?--out needs a folder}; shift 2 ;;
    --version) VERSION=${2:?--version needs a version}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "build-deb.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "build-deb.sh: run as root (it installs the build dependencies)" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=$(nproc)}

missing() { for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done; }
apt_install() {
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "$@" >&2
}

tools=$(missing dpkg-dev lintian git)
[ -z "$tools" ] || apt_install $tools

scratch=$(mktemp -d /var/tmp/retention-milter-deb.XXXXXX)
if [ "$KEEP" = 1 ]; then
  trap 'echo "build-deb.sh: the scratch folder is kept: $scratch" >&2' EXIT
else
  trap 'rm -rf "$scratch"' EXIT
fi
src=$scratch/retention-milter
mkdir "$src"
# As root (sudo) in a clone another user owns, git refuses the repository unless told it is safe.
git -c safe.directory="$ROOT" -C "$ROOT" archive HEAD | tar -x -C "$src"

if [ -n "$VERSION" ]; then
  { printf 'retention-milter (%s) unstable; urgency=medium\n\n  * Local build.\n\n' "$VERSION"
    printf ' -- %s  %s\n\n' "$(sed -n 's/^Maintainer: //p' "$src/debian/control")" "$(date -R)"
    cat "$src/debian/changelog"; } >"$src/debian/changelog.new"
  mv "$src/debian/changelog.new" "$src/debian/changelog"
fi

# apt reads the build dependencies from debian/control itself.
if ! (cd "$src" && dpkg-checkbuilddeps) 2>/dev/null; then
  apt-get update -qq >&2
  apt-get build-dep -y -qq --no-install-recommends "$src" >&2
fi

(cd "$src" && dpkg-buildpackage -b -us -uc)

changes=$(ls "$scratch"/retention-milter_*.changes)
echo "=== lintian"
lintian --fail-on error,warning --display-info "$changes"

mkdir -p "$OUT"
rm -f "$OUT"/retention-milter_*.deb
cp "$scratch"/retention-milter_*.deb "$OUT/"
ls "$OUT"/retention-milter_*.deb
