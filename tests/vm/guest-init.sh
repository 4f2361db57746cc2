#!/bin/sh
# shellcheck shell=sh
# /init of the test guest (busybox sh). Stage 1 runs in the kernel's initramfs rootfs and
# copies it into a real tmpfs: rootfs can never be unmounted, so pivot_root (which every
# session's moat-init does) fails on it with EINVAL. Stage 2 runs in that tmpfs: it mounts a
# cgroup2-only hierarchy, runs the test command from /etc/moat-vm and prints
#   MOAT-VM-RESULT: <name> rc=<status>
# on the serial console before powering off. run-in-vm.sh reads that line.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

result() {
  echo "MOAT-VM-RESULT: ${MOAT_VM_NAME:-unknown} rc=$1"
  sync
  poweroff -f
  sleep 5  # poweroff -f does not return; if it ever did, exiting init panics (panic=-1)
  exit 1
}

fail() {
  echo "moat-vm: $*" >&2
  result "setup-failed"
}

stage1() {
  mount -t devtmpfs devtmpfs /dev || fail "mount devtmpfs on /dev"
  mkdir -p /newroot
  mount -t tmpfs -o mode=0755 root /newroot || fail "mount tmpfs on /newroot"
  for entry in /* /.[!.]*; do
    case "$entry" in
      /newroot | /dev | /proc | /sys | '/.[!.]*') continue ;;
    esac
    cp -a "$entry" /newroot/ || fail "copy '$entry' into the tmpfs root"
  done
  mkdir -p /newroot/dev /newroot/proc /newroot/sys
  mount --move /dev /newroot/dev || fail "move /dev"
  # switch_root empties the old rootfs (freeing its memory) and execs stage 2 as PID 1.
  exec switch_root /newroot /init stage2
}

mount_basics() {
  mount -t proc proc /proc || fail "mount proc"
  mount -t sysfs sysfs /sys || fail "mount sysfs"
  mkdir -p /dev/pts /dev/shm
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts || fail "mount devpts"
  mount -t tmpfs -o mode=1777 shm /dev/shm || fail "mount /dev/shm"
  mount -t tmpfs -o mode=0755 run /run || fail "mount /run"
  # /tmp and /var/tmp stay directories of the tmpfs root: a tmpfs over /tmp would hide a
  # build tree that lives under /tmp.
  hostname moat-vm
  ip link set lo up 2>/dev/null || true
}

load_modules() {
  [ -f /lib/modules/moat-vm/order ] || return 0
  while read -r module; do
    [ -n "$module" ] || continue
    insmod "/lib/modules/moat-vm/$module.ko" || fail "insmod '$module'"
  done </lib/modules/moat-vm/order
}

# cgroup2 only, mounted as systemd mounts it. PID 1 moves into a leaf first, as systemd's
# init.scope: the tests then run from a non-root group, as they do on a real host. (The root
# group is exempt from the no-internal-processes rule, so enabling controllers would work
# from there too, but a non-root parent with processes would refuse it with EBUSY.)
# /home on the scratch disk run-in-vm.sh attaches (formatted here: busybox makes ext2, which
# Debian's ext4 driver mounts), so that it has a block device behind it as on a real host.
mount_home() {
  [ -b /dev/vda ] || { echo "moat-vm: no /dev/vda: /home stays on the tmpfs root"; return 0; }
  mke2fs -F /dev/vda >/dev/null 2>&1 || fail "mke2fs /dev/vda"
  mount -t ext2 /dev/vda /home || fail "mount /dev/vda on /home"
  rmdir /home/lost+found 2>/dev/null || true
  chmod 0755 /home
}

setup_cgroup2() {
  mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
  if grep -q ' cgroup ' /proc/mounts; then fail "a cgroup v1 hierarchy is mounted"; fi
  mkdir -p /sys/fs/cgroup/init.scope
  echo $$ >/sys/fs/cgroup/init.scope/cgroup.procs || fail "move PID 1 into init.scope"
  available=$(cat /sys/fs/cgroup/cgroup.controllers)
  for controller in cpu memory pids io; do
    case " $available " in
      *" $controller "*)
        echo "+$controller" >/sys/fs/cgroup/cgroup.subtree_control ||
          fail "enable '$controller' in cgroup.subtree_control"
        ;;
    esac
  done
  echo "moat-vm: cgroup2 at /sys/fs/cgroup, controllers '$available'," \
    "subtree_control '$(cat /sys/fs/cgroup/cgroup.subtree_control)'"
}

# Tests scale durations (never tolerances) by this: TCG runs a guest at about 1/7 native speed.
export_accel() {
  MOAT_VM_ACCEL=unknown
  read -r cmdline </proc/cmdline
  for word in $cmdline; do
    case "$word" in moat.accel=*) MOAT_VM_ACCEL=${word#moat.accel=} ;; esac
  done
  case "$MOAT_VM_ACCEL" in
    kvm) MOAT_TEST_TIME_SCALE=1 ;;
    *) MOAT_TEST_TIME_SCALE=7 ;;
  esac
  export MOAT_VM_ACCEL MOAT_TEST_TIME_SCALE
}

stage2() {
  mount_basics
  # shellcheck source=/dev/null
  . /etc/moat-vm/test.conf || fail "read /etc/moat-vm/test.conf"
  echo "MOAT-VM-READY uptime=$(cut -d' ' -f1 /proc/uptime)"
  load_modules
  mount_home
  setup_cgroup2
  export_accel
  export HOME=/root LANG=C.UTF-8 GTEST_COLOR=no
  cd /tmp || fail "cd /tmp"
  echo "moat-vm: running '${MOAT_VM_NAME}' (accel ${MOAT_VM_ACCEL}," \
    "time scale ${MOAT_TEST_TIME_SCALE}, timeout ${MOAT_VM_TEST_TIMEOUT}s)"
  rc=0
  timeout -s KILL "$MOAT_VM_TEST_TIMEOUT" sh /etc/moat-vm/test.sh </dev/null || rc=$?
  echo "moat-vm: finished after uptime $(cut -d' ' -f1 /proc/uptime)"
  # Not a verdict (the tests check their own traces), a clue when a v2 teardown goes wrong.
  left=$(find /sys/fs/cgroup/moat -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')
  [ -z "$left" ] || echo "moat-vm: cgroups left under /sys/fs/cgroup/moat: $left"
  result "$rc"
}

case "${1:-}" in
  stage2) stage2 ;;
  *) stage1 ;;
esac
