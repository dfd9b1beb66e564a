#!/bin/bash
# sendmail_ns_run.sh DIR SENDMAIL HOSTNAME SASL_PLUGIN_DIR: set up the test Sendmail's private view of
# the machine (host name, /etc/hosts, nsswitch, /dev/log, SASL folder), build the alias
# database, then exec the daemon in the foreground.
set -euo pipefail
dir=$1 sm=$2 name=$3 sasl_dir=$4
# This process becomes the daemon (exec keeps the pid): record what sm_stop needs to know it
# by, before anything can fail. Its mount namespace is this instance's alone.
readlink /proc/self/ns/mnt >"$dir/run/sendmail.mntns"
echo $$ >"$dir/run/sendmail.pid"
hostname "$name"
mount --bind "$dir/etc/hosts" /etc/hosts
if [ -f /etc/nsswitch.conf ]; then
  mount --bind "$dir/etc/nsswitch.conf" /etc/nsswitch.conf
fi
# A private /dev: a tmpfs carrying the host's basic nodes, and our syslog socket as /dev/log.
mkdir -p "$dir/ns/hostdev"
mount --rbind /dev "$dir/ns/hostdev"
mount -t tmpfs -o mode=0755,size=64k sm-test-dev /dev
for node in null zero full random urandom tty; do
  if [ -e "$dir/ns/hostdev/$node" ]; then
    : >"/dev/$node"
    mount --bind "$dir/ns/hostdev/$node" "/dev/$node"
  fi
done
umount -l "$dir/ns/hostdev"
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
ln -s "$dir/run/log.sock" /dev/log
# SASL's compiled-in folder (plugins and Sendmail.conf) replaced by our copy; /etc/sasl2 and
# /etc/sasl come first in its config path, so they are covered too when they exist.
if [ -n "$sasl_dir" ] && [ -d "$dir/sasl2" ]; then
  for d in "$sasl_dir" /etc/sasl2 /etc/sasl; do
    if [ -d "$d" ]; then mount --bind "$dir/sasl2" "$d"; fi
  done
fi
"$sm" -C "$dir/etc/sendmail.cf" -bi
exec "$sm" -C "$dir/etc/sendmail.cf" -bD -L sm-mta
