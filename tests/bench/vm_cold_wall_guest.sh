#!/bin/bash
# Guest half of vm_cold_wall.sh: on a kernel as booted (no favordynmods), rebuilds the build
# machines' hybrid cgroup layout (LAYOUT hybrid) or keeps the guest's pure cgroup v2 (v2), then
# times `moat-sandbox run -- /bin/true` from each build in turn, with a pause before every run
# (cold) and back to back.
#   vm_cold_wall_guest.sh RUNS LAYOUT DIR...   (each DIR holds moat-sandbox and moat-init)
set -u
runs="$1"
layout="$2"
shift 2

make_hybrid_layout() {
  # Free the controllers from the guest's cgroup2 root, then mount them as v1 hierarchies and the
  # controller-less cgroup2 at unified, as on the hosts. memory stays busy on cgroup2 (kernel
  # memory is charged there already) and is left out; Moat skips a missing hierarchy.
  echo 0 >/sys/fs/cgroup/cgroup.procs
  for pid in $(cat /sys/fs/cgroup/init.scope/cgroup.procs 2>/dev/null); do
    echo "$pid" >/sys/fs/cgroup/cgroup.procs 2>/dev/null
  done
  rmdir /sys/fs/cgroup/init.scope 2>/dev/null
  echo "-cpu -memory -pids -io" >/sys/fs/cgroup/cgroup.subtree_control
  umount -l /sys/fs/cgroup
  mount -t tmpfs cgroup /sys/fs/cgroup
  for controller in cpu cpuacct pids freezer blkio; do
    mkdir "/sys/fs/cgroup/$controller"
    mount -t cgroup -o "$controller" cgroup "/sys/fs/cgroup/$controller" ||
      { echo "vm_cold_wall: cannot mount $controller"; exit 1; }
  done
  mkdir /sys/fs/cgroup/unified
  mount -t cgroup2 none /sys/fs/cgroup/unified
}

[[ "$layout" == hybrid ]] && make_hybrid_layout
useradd -m moat-bench >/dev/null 2>&1 || true

times=$(mktemp)
for gap in 0.1 0; do
  for round in 1 2 3; do
    for dir in "$@"; do
      for ((i = 0; i < runs; i++)); do
        [[ "$gap" != 0 ]] && sleep "$gap"
        start=$EPOCHREALTIME
        "$dir/moat-sandbox" --run-dir /run/moat-cold run --user moat-bench --pids 1024 \
          --cpu 100 -- /bin/true || { echo "vm_cold_wall: run failed ($dir)"; exit 1; }
        echo "$gap $dir $start $EPOCHREALTIME" >>"$times"
      done
    done
  done
done
for gap in 0.1 0; do
  for dir in "$@"; do
    awk -v g="$gap" -v d="$dir" '$1 == g && $2 == d { print ($4 - $3) * 1000 }' "$times" |
      sort -n | awk -v g="$gap" -v d="$dir" '{ t[NR] = $1 } END {
        printf "vm_cold_wall: %s pause %s s: median %.1f ms (min %.1f, max %.1f, %d runs)\n",
          d, g, t[int((NR + 1) / 2)], t[1], t[NR], NR }'
  done
done
