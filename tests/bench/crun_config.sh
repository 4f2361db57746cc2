#!/bin/sh
# Writes an OCI config.json for crun in its most isolated configuration, matching a Moat wall:
# all seven namespaces including user (root inside mapped to an unprivileged host range, the
# process running as the session user's uid), no capabilities, noNewPrivileges, the seccomp
# section that moat-seccomp-export --oci-json produced, Docker's masked and read-only paths and
# cgroup limits (memory, pids, cpu).
#
# The root is ROOTFS, a skeleton with the host's /usr and /etc bound read-only into it and
# Debian's merged-/usr symlinks (bin, lib, lib64, sbin): crun cannot pivot_root into / itself.
#
#   crun_config.sh SECCOMP_JSON UID GID ROOTFS > config.json
set -eu
seccomp_json=$1
uid=$2
gid=$3
rootfs=$4
# Root inside the container is this host range (like Moat's id slots, which start at 2^20).
host_base=${CRUN_BENCH_HOST_BASE:-3145728}

cat <<JSON
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": $uid, "gid": $gid},
    "args": ["/bin/true"],
    "env": ["PATH=/usr/local/bin:/usr/bin:/bin"],
    "cwd": "/",
    "capabilities": {"bounding": [], "effective": [], "inheritable": [], "permitted": [],
                     "ambient": []},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "$rootfs", "readonly": true},
  "hostname": "crun-bench",
  "mounts": [
    {"destination": "/usr", "type": "bind", "source": "/usr",
     "options": ["rbind", "ro", "nosuid", "nodev"]},
    {"destination": "/etc", "type": "bind", "source": "/etc",
     "options": ["rbind", "ro", "nosuid", "nodev"]},
    {"destination": "/proc", "type": "proc", "source": "proc",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "nodev", "mode=1777", "size=65536k"]}
  ],
  "linux": {
    "uidMappings": [{"containerID": 0, "hostID": $host_base, "size": $uid},
                    {"containerID": $uid, "hostID": $uid, "size": 1}],
    "gidMappings": [{"containerID": 0, "hostID": $host_base, "size": $gid},
                    {"containerID": $gid, "hostID": $gid, "size": 1}],
    "namespaces": [{"type": "user"}, {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                   {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
    "cgroupsPath": "/crun-bench/bench",
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}],
      "memory": {"limit": 536870912},
      "pids": {"limit": 1024},
      "cpu": {"shares": 1024, "quota": 100000, "period": 100000}
    },
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                    "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                    "/sys/devices/virtual/powercap"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    "seccomp": $(cat "$seccomp_json")
  }
}
JSON
