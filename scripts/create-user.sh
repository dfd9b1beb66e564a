#!/bin/sh
# Creates what retention-milter needs on this host, idempotently (run it again at will):
#   - the system user and group "retention" (adduser --system --group);
#   - the state folder /var/lib/retention-milter: owner retention, group retention,
#     mode 2770 (setgid: every file any of the three programs creates there keeps the
#     group, so the milter, the sweeper and retentionctl can all use it; others nothing);
#   - /etc/retention-milter: root, group retention, mode 0750; the config 0640;
#   - the digest key, when there is neither key nor index yet (see below);
#   - Postfix's socket folder /var/spool/postfix/retention-milter (retention:postfix
#     0750) when Postfix is installed: the milter's socket lives there (socket_group =
#     "postfix"), so Postfix reaches it without being in the group retention, which owns
#     the index and the key. An older install put postfix in that group: it is taken out;
#   - with --sweeper-user USER (the mail store's owner, e.g. vmail), adds USER to the group,
#     so the sweeper can mark rows destroyed.
# Usage: create-user.sh [--sweeper-user USER] [--admin USER]...   (as root)
#   --admin USER  adds a person who runs retentionctl to the group (or use sudo).
set -eu

# The environment may move these, for tests in a scratch folder; installs keep the defaults.
NAME=${RM_USER:-retention}
STATE=${RM_STATE_DIR:-/var/lib/retention-milter}
ETC=${RM_ETC_DIR:-/etc/retention-milter}
SPOOL=${RM_POSTFIX_SPOOL:-/var/spool/postfix}
members=""

while [ $# -gt 0 ]; do
    case "$1" in
        --sweeper-user|--admin) [ $# -ge 2 ] || { echo "$1 needs a user name" >&2; exit 2; }
                                members="$members $2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "create-user.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

[ "$(id -u)" -eq 0 ] || { echo "create-user.sh: run as root" >&2; exit 1; }

if ! getent passwd "$NAME" >/dev/null; then
    adduser --system --group --home "$STATE" --no-create-home "$NAME"
elif ! getent group "$NAME" >/dev/null; then
    addgroup --system "$NAME"
    adduser "$NAME" "$NAME"
fi

install -d -m 2770 -o "$NAME" -g "$NAME" "$STATE"
chmod 2770 "$STATE"   # install -d leaves an existing folder's setgid bit as it was

install -d -m 0750 -o root -g "$NAME" "$ETC"
if [ -f "$ETC/retention.toml" ]; then
    chgrp "$NAME" "$ETC/retention.toml"
    chmod 0640 "$ETC/retention.toml"
fi

# The key is made together with a new index, never beside an existing one (that would
# orphan every row). The milter would make it at its first start, but its systemd unit
# keeps /etc read-only (ProtectSystem=strict), so it is made here, the same way:
# 32 random bytes, mode 0640, group retention, appearing whole or not at all.
KEY="$ETC/index.key"
if [ ! -e "$KEY" ] && [ ! -e "$STATE/index.sqlite3" ]; then
    tmp="$KEY.new.$$"
    (umask 0277 && head -c 32 /dev/urandom > "$tmp")
    chgrp "$NAME" "$tmp"
    chmod 0640 "$tmp"
    sync "$tmp" 2>/dev/null || sync
    if ln "$tmp" "$KEY" 2>/dev/null; then echo "made the digest key $KEY: back it up with the index"; fi
    rm -f "$tmp"
elif [ -e "$KEY" ]; then
    chgrp "$NAME" "$KEY"
    chmod 0640 "$KEY"
fi

in_group() { id -nG "$1" | tr ' ' '\n' | grep -qx "$NAME"; }

# The internet-facing MTA gets the socket's folder, never the group that reads the index
# and the key. The folder belongs to the milter's user, so the milter can remove its
# socket when it stops.
if getent passwd postfix >/dev/null; then
    if [ -d "$SPOOL" ]; then
        install -d -m 0750 -o "$NAME" -g postfix "$SPOOL/retention-milter"
    fi
    if in_group postfix && [ "$(id -gn postfix)" != "$NAME" ]; then
        deluser --quiet postfix "$NAME"
        echo "took postfix out of the group $NAME (it could read the index and the key): Postfix"
        echo "  reaches the milter through $SPOOL/retention-milter with socket_group = \"postfix\"."
        echo "  Check that retention.toml says so, then restart Postfix (systemctl restart postfix):"
        echo "  its running processes keep the group until then."
    fi
fi

conf="$ETC/retention.toml"
if [ -f "$conf" ] && grep -Eq "^socket *= *\"(unix|local):$SPOOL/" "$conf" &&
    ! grep -Eq '^socket_group *= *"postfix"' "$conf"; then
    echo "warning: $conf puts the socket in Postfix's spool but does not say" >&2
    echo "  socket_group = \"postfix\": Postfix cannot connect to it. Set it, and socket_mode = \"0660\"." >&2
fi

for user in $members; do
    if [ "$user" = postfix ]; then
        echo "create-user.sh: postfix is the MTA's user: it must not read the index or the key" >&2
        exit 1
    fi
    if ! getent passwd "$user" >/dev/null; then
        echo "create-user.sh: there is no user $user" >&2
        exit 1
    fi
    if ! in_group "$user"; then
        adduser "$user" "$NAME"
    fi
done

echo "ok: user and group $NAME, $STATE (2770), $ETC (0750)."
echo "Next: edit $ETC/retention.toml, then run: retentionctl check"
