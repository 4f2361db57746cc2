#!/bin/sh
# shellcheck shell=sh
# useradd for the test guest. The integration tests create their users with
# `useradd --create-home --shell /bin/sh NAME` (test_support.cc: EnsureUser), and Debian's
# busybox-static has neither useradd nor adduser. This writes /etc/passwd, /etc/group and
# /etc/shadow as useradd does with Debian's defaults (a group of the same name, the first free
# id from 1000, home 0755 under /home). It understands the options tests use, refuses others.
set -eu

me="useradd (moat-vm shim)"
create_home=0
shell=/bin/sh
home=""
uid=""
name=""
while [ $# -gt 0 ]; do
  case "$1" in
    -m | --create-home) create_home=1 ;;
    -M | --no-create-home) create_home=0 ;;
    -s | --shell) shell="$2"; shift ;;
    -d | --home-dir) home="$2"; shift ;;
    -u | --uid) uid="$2"; shift ;;
    -*) echo "$me: unsupported option '$1'" >&2; exit 2 ;;
    *) name="$1" ;;
  esac
  shift
done
case "$name" in
  "" | *[!a-z0-9_.-]*) echo "$me: invalid user name '$name'" >&2; exit 3 ;;
esac
home="${home:-/home/$name}"
if grep -q "^$name:" /etc/passwd; then
  echo "useradd: user '$name' already exists" >&2
  exit 9
fi

# The first id from 1000 that is neither a uid nor a gid yet.
taken() { cut -d: -f3 /etc/passwd /etc/group | grep -qx "$1"; }
if [ -z "$uid" ]; then
  uid=1000
  while taken "$uid"; do uid=$((uid + 1)); done
fi

echo "$name:x:$uid:$uid::$home:$shell" >>/etc/passwd
echo "$name:x:$uid:" >>/etc/group
echo "$name:!:19000:0:99999:7:::" >>/etc/shadow
if [ "$create_home" = 1 ]; then
  mkdir -p "$home"
  chown "$uid:$uid" "$home"
  chmod 0755 "$home"
fi
