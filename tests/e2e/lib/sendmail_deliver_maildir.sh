#!/bin/sh
# Delivers one message from stdin into MAILROOT/<domain>/<localpart>/new, Maildir style
# (write in tmp/, then rename into new/), for the test Sendmail's maildir mailer.
set -eu
root=$1 host=$2 addr=$3
addr=${addr#<}; addr=${addr%>}; addr=${addr%.}
case $addr in
  *@*) local=${addr%@*} domain=${addr##*@} ;;
  *) local=$addr domain=$host ;;
esac
domain=${domain%.}
local=$(printf '%s' "$local" | tr 'A-Z' 'a-z')
domain=$(printf '%s' "$domain" | tr 'A-Z' 'a-z')
# Only plain names become folders: nothing may climb out of MAILROOT.
for part in "$local" "$domain"; do
  case $part in
    ''|.*|*[!a-z0-9._+-]*) echo "deliver-maildir: refusing address <$addr>" >&2; exit 67 ;;
  esac
done
box=$root/$domain/$local
mkdir -p "$box/tmp" "$box/new" "$box/cur" || exit 73
now=$(date +%s.%N)
name="${now%.*}.M${now#*.}P$$.$(hostname)"
cat >"$box/tmp/$name" || { rm -f "$box/tmp/$name"; exit 74; }
mv "$box/tmp/$name" "$box/new/$name" || exit 74
