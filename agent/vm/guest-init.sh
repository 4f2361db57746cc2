#!/bin/sh
# shellcheck shell=sh
# /init of a VM session's guest (busybox sh, in the initramfs build-guest.sh makes). It loads
# the virtio modules (Debian's kernel only), builds the session's root and execs moat-init as PID 1:
#   /          overlay: the host's / over virtio-9p (tag moat-root, read-only) as the lower,
#              a tmpfs as the upper: writes land in guest memory, never on the host
#   $HOME      the user's home over virtio-9p (tag moat-home), read-write
#   /proc /sys /dev /dev/pts /dev/shm /run /tmp   the guest's own
# The session (id, user, ids, home) is on the kernel command line (moat.*); moat-init reads
# it there and serves the control protocol on the virtio-serial port named moat.control.
# A failure prints "MOAT-VM-GUEST-FAILED: reason" on the console and powers off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

fail() {
  echo "MOAT-VM-GUEST-FAILED: $*"
  poweroff -f
  sleep 5
  exit 1
}

# One mount process for several mounts (mount -a -T): every busybox process costs a fork and an
# exec, milliseconds each under TCG.
printf '%s\n' "devtmpfs /dev devtmpfs defaults" "proc /proc proc defaults" \
  "sysfs /sys sysfs defaults" >/fstab.early
mount -a -T /fstab.early || fail "mount /dev, /proc, /sys"

home=""
uid=""
read -r cmdline </proc/cmdline
for word in $cmdline; do
  case "$word" in
    moat.home=*) home=${word#moat.home=} ;;
    moat.uid=*) uid=${word#moat.uid=} ;;
  esac
done
case "$home" in /?*) ;; *) fail "no moat.home= on the kernel command line" ;; esac

# Debian's kernel needs its virtio, 9p and overlay modules; the project's own kernel
# (build-kernel.sh) has them built in, and its initramfs carries no order file.
if [ -f /lib/modules/moat-vm/order ]; then
  while read -r module; do
    [ -n "$module" ] || continue
    insmod "/lib/modules/moat-vm/$module.ko" || fail "insmod '$module'"
  done </lib/modules/moat-vm/order
fi

# The host's / is read-only on the host's side too (QEMU's readonly=on); the page cache may
# keep what it read, since it never changes under the guest's feet in a way that matters.
mkdir -p /lower /rw /newroot /dev/pts /dev/shm
nine="trans=virtio,version=9p2000.L,access=client,msize=524288"
printf '%s\n' "moat-root /lower 9p $nine,ro,cache=loose" "moat-rw /rw tmpfs mode=0755" \
  >/fstab.lower
mount -a -T /fstab.lower || fail "mount the host's / (9p moat-root) and the overlay's tmpfs"
mkdir -p /rw/upper /rw/work
printf '%s\n' \
  "moat-root /newroot overlay lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work" \
  "moat-home /newroot$home 9p $nine,nosuid,nodev" \
  "proc /newroot/proc proc defaults" \
  "sysfs /newroot/sys sysfs defaults" \
  "/dev /newroot/dev none move" \
  "devpts /newroot/dev/pts devpts newinstance,ptmxmode=0666,mode=0620" \
  "shm /newroot/dev/shm tmpfs mode=1777,nosuid,nodev" \
  "run /newroot/run tmpfs mode=0755,nosuid,nodev" \
  "tmp /newroot/tmp tmpfs mode=1777,nosuid,nodev" >/fstab.root
# On a failure busybox prints which mount failed and why, just before our line on the console.
mount -a -T /fstab.root || fail "mount the session's root, home ($home), /proc, /sys, /dev, tmpfs"
ip link set lo up 2>/dev/null || true

# The control port: /dev/vportNpM whose sysfs name is moat.control (no udev here, so no
# /dev/virtio-ports/ links).
# `read` is a shell builtin: no fork per port (each fork and exec costs milliseconds under TCG).
port=""
for try in 1 2 3 4 5 6 7 8 9 10; do
  for name in /sys/class/virtio-ports/*/name; do
    [ -f "$name" ] && read -r port_name <"$name" && [ "$port_name" = moat.control ] || continue
    dir=${name%/name}
    port=/dev/${dir##*/}
  done
  [ -n "$port" ] && [ -c "/newroot$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "no virtio-serial port named moat.control"

# A desktop VM has more ports, moat.display and a watcher's moat.viewN each, whose host end is
# the session's RFB socket (one viewer per port). Their relays (moat-init --vm-relay) run as
# the user, so the user gets the ports and the directory Xvnc puts its socket in; no one else
# in the guest does.
for name in /sys/class/virtio-ports/*/name; do
  [ -f "$name" ] && read -r port_name <"$name" || continue
  case "$port_name" in
    moat.display | moat.view[0-9]) ;;
    *) continue ;;
  esac
  dir=${name%/name}
  display_port=/newroot/dev/${dir##*/}
  if ! chown "$uid" "$display_port" || ! chmod 0600 "$display_port"; then
    fail "hand the display port to uid $uid"
  fi
  if ! mkdir -p /newroot/run/moat/display || ! chown "$uid" /newroot/run/moat/display ||
    ! chmod 0700 /newroot/run/moat/display; then
    fail "make /run/moat/display"
  fi
done

# moat-init is static: it runs from the guest's own /run, whatever the exported root holds.
mkdir -p /newroot/run/moat-vm
cp /moat-init /newroot/run/moat-vm/moat-init || fail "copy moat-init"
exec switch_root /newroot /run/moat-vm/moat-init --vm "$port"
