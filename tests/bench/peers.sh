#!/bin/bash
# Create → run /bin/true → tear down: a Moat wall against bubblewrap and crun in their most
# isolated configurations, timed by hyperfine in alternating rounds (issue 3; figures in
# docs/performance.md).
#
#   tests/bench/peers.sh [--build-dir DIR] [--out DIR] [--runs N] [--rounds N] [--warmup N]
#
# Needs root, hyperfine, bwrap and crun (scripts/install-deps.sh installs them; this script
# installs nothing) and a Moat build with moat-sandbox, moat-init and moat-seccomp-export.
# Creates the user 'moat-bench' when it is missing.
#
# What each command is:
#   unshare-floor  unshare(1) of all seven namespaces around /bin/true: the kernel's floor
#   sh-wrapper     sh -c 'exec /bin/true': the shell bwrap needs to get its filter on fd 9
#   bwrap          bwrap --unshare-all (user, pid, mount, net, ipc, uts, cgroup), caps dropped,
#                  Moat's own seccomp program, read-only bind of /, fresh /proc and /dev
#   crun-wrapper   unshare -m sh -c 'umount /sys/fs/cgroup/unified; exec /bin/true': crun 1.8
#                  refuses this host's hybrid cgroup layout, so it runs in a private mount
#                  namespace without the controller-less cgroup2 mount
#   crun           crun run inside that wrapper: user namespace with id maps, all namespaces,
#                  no caps, noNewPrivileges, Moat's policy as an OCI seccomp section, memory,
#                  pids and cpu limits (v1), Docker's masked paths, read-only root
#   moat           moat-sandbox run --user moat-bench -- /bin/true: the full wall, with the same
#                  memory, pids and cpu limits as crun
# The "net" figures subtract each peer's wrapper, so that the ratios are against what bwrap
# and crun themselves cost. The N runs of each command are split into rounds (5 by default),
# the order of the commands reversed every other round, and the times pooled: the host's
# speed drifts by tens of percent within minutes, and one block per command would let that
# drift decide the ratios.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build_dir=""
out_dir=""
runs=100
rounds=5
warmup=5
user=moat-bench

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --out) out_dir=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "peers.sh: unknown flag '$1'" >&2; usage ;;
  esac
done

[[ $runs =~ ^[0-9]+$ && $rounds =~ ^[0-9]+$ && $rounds -ge 1 && $runs -ge $rounds ]] ||
  { echo "peers.sh: --runs and --rounds must be whole numbers, 1 <= rounds <= runs" >&2; exit 2; }

if [[ -z $build_dir ]]; then
  build_dir=$repo/build-bench
  [[ -x $build_dir/sandbox/moat-sandbox ]] || build_dir=$repo/build
fi
out_dir=${out_dir:-$(mktemp -d /tmp/moat-peers.XXXXXX)}
mkdir -p "$out_dir"
# crun's container root (an unprivileged host id in its user namespace) walks to the bundle
# through here: mktemp's 0700 would refuse it ("make rootfs private: Permission denied").
chmod 0755 "$out_dir"

die() { echo "peers.sh: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (namespaces, mounts, cgroups for Moat and crun)"
for tool in hyperfine bwrap crun unshare python3; do
  command -v "$tool" >/dev/null ||
    die "'$tool' is missing: run scripts/install-deps.sh (hyperfine, bubblewrap, crun)"
done
moat_sandbox=$build_dir/sandbox/moat-sandbox
export_tool=$build_dir/tests/bench/moat-seccomp-export
for bin in "$moat_sandbox" "$build_dir/sandbox/moat-init" "$export_tool"; do
  [[ -x $bin ]] || die "'$bin' is missing: build it with
  cmake -G Ninja -S $repo -B $build_dir -DCMAKE_BUILD_TYPE=Release
  ninja -C $build_dir moat-sandbox moat-init moat-seccomp-export"
done
if ! id "$user" >/dev/null 2>&1; then
  useradd -m "$user" || die "cannot create user '$user'"
fi
uid=$(id -u "$user")
gid=$(id -g "$user")

# --- the same seccomp policy for everyone -------------------------------------------------
"$export_tool" "$out_dir/moat.bpf"
"$export_tool" --oci-json "$out_dir/seccomp-oci.json"

# --- crun bundle ---------------------------------------------------------------------------
bundle=$out_dir/crun-bundle
crun_root=/run/crun-bench.$$
moat_run_dir=/run/moat-peers.$$
mkdir -p "$bundle/rootfs"
for dir in usr etc proc dev sys tmp; do mkdir -p "$bundle/rootfs/$dir"; done
for link in bin lib lib64 sbin; do ln -sfn "usr/$link" "$bundle/rootfs/$link"; done
"$here/crun_config.sh" "$out_dir/seccomp-oci.json" "$uid" "$gid" "$bundle/rootfs" \
  >"$bundle/config.json"

# crun 1.8.1 hands its stdio to the container's user with fchown, and under hyperfine that
# stdio is the host's /dev/null: put it back, or the bench user owns the host's /dev/null.
cleanup() {
  chown root:root /dev/null && chmod 0666 /dev/null
  rm -rf "$crun_root"
  rm -rf "$moat_run_dir"
  for controller in /sys/fs/cgroup/*/; do
    if [[ -d ${controller}crun-bench ]]; then
      rmdir "${controller}crun-bench" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT

unified_umount='umount /sys/fs/cgroup/unified 2>/dev/null || true'
if ! mountpoint -q /sys/fs/cgroup/unified; then unified_umount=true; fi

cmd_unshare="unshare --user --map-root-user --pid --fork --mount --net --ipc --uts --cgroup"
cmd_unshare+=" /bin/true"
cmd_sh="sh -c 'exec /bin/true'"
bwrap_flags="--unshare-all --unshare-user --uid $uid --gid $gid --die-with-parent --new-session"
bwrap_flags+=" --cap-drop ALL --ro-bind / / --proc /proc --dev /dev --seccomp 9"
cmd_bwrap="sh -c 'exec bwrap $bwrap_flags /bin/true 9<$out_dir/moat.bpf'"
cmd_crun_wrapper="unshare -m sh -c '$unified_umount; exec /bin/true'"
cmd_crun="unshare -m sh -c '$unified_umount;"
cmd_crun+=" exec crun --root $crun_root run --bundle $bundle bench'"
cmd_moat="$moat_sandbox --run-dir $moat_run_dir run --user $user"
cmd_moat+=" --memory 512M --pids 1024 --cpu 100 -- /bin/true"

# Every command must succeed once before it is timed (hyperfine would also stop on failure,
# but with less to go on).
for cmd in "$cmd_unshare" "$cmd_sh" "$cmd_bwrap" "$cmd_crun_wrapper" "$cmd_crun" "$cmd_moat"; do
  sh -c "$cmd" </dev/null || die "this command fails, fix it before timing: $cmd"
done

echo "peers.sh: results in $out_dir" >&2
"$here/wait_quiet.sh" || true
# CPU time the machine spent on anything but this run (other builds, VMs): printed with the
# results, since on a 2-core machine it multiplies every figure.
stat_before=$(head -1 /proc/stat)
names=(unshare-floor sh-wrapper bwrap crun-wrapper crun moat)
commands=("$cmd_unshare" "$cmd_sh" "$cmd_bwrap" "$cmd_crun_wrapper" "$cmd_crun" "$cmd_moat")
runs_per_round=$(( (runs + rounds - 1) / rounds ))
for (( round = 1; round <= rounds; ++round )); do
  order=(0 1 2 3 4 5)
  (( round % 2 == 0 )) && order=(5 4 3 2 1 0)
  named=()
  for i in "${order[@]}"; do named+=(-n "${names[i]}" "${commands[i]}"); done
  hyperfine -N --style basic --warmup "$warmup" --runs "$runs_per_round" \
    --export-json "$out_dir/round-$round.json" "${named[@]}" >"$out_dir/round-$round.txt"
done
stat_after=$(head -1 /proc/stat)
times >"$out_dir/times.txt"  # last line: user and system time of our children, "XmY.YYYs"
python3 - "$stat_before" "$stat_after" "$(tail -1 "$out_dir/times.txt")" \
  >"$out_dir/other-load.txt" <<'EOF'
import os, re, sys
before = [int(x) for x in sys.argv[1].split()[1:9]]
after = [int(x) for x in sys.argv[2].split()[1:9]]
delta = [a - b for a, b in zip(after, before)]
total = sum(delta)
busy = total - delta[3] - delta[4]
ours = sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", sys.argv[3]))
ours *= os.sysconf("SC_CLK_TCK")
print(f"other load during the run: {max(0.0, busy - ours) * 100 / total:.0f}% of the machine, "
      f"all busy {busy * 100 / total:.0f}% (kernel workers freeing our namespaces count as other)")
EOF

python3 - "$out_dir" "$rounds" <<'EOF' | tee "$out_dir/summary.txt"
import json, statistics, sys
out_dir, rounds = sys.argv[1], int(sys.argv[2])
times = {}
for k in range(1, rounds + 1):
    for r in json.load(open(f"{out_dir}/round-{k}.json"))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
order = ["unshare-floor", "sh-wrapper", "bwrap", "crun-wrapper", "crun", "moat"]
results = {name: {"command": name, "times": times[name],
                  "median": statistics.median(times[name]), "mean": statistics.mean(times[name]),
                  "stddev": statistics.stdev(times[name]), "min": min(times[name]),
                  "max": max(times[name])} for name in order}
json.dump({"rounds": rounds, "results": list(results.values())},
          open(f"{out_dir}/peers.json", "w"), indent=1)
ms = lambda name: results[name]["median"] * 1000
print(f"{sum(len(t) for t in times.values()) // len(times)} runs of each command in {rounds} rounds")
print(f"{'command':<14} {'median ms':>10} {'mean ms':>9} {'stddev':>7} {'min':>7} {'max':>7}")
for name, r in results.items():
    print(f"{name:<14} {r['median']*1e3:>10.2f} {r['mean']*1e3:>9.2f} "
          f"{r['stddev']*1e3:>7.2f} {r['min']*1e3:>7.2f} {r['max']*1e3:>7.2f}")
moat, bwrap, crun = ms("moat"), ms("bwrap"), ms("crun")
bwrap_net = bwrap - ms("sh-wrapper")
crun_net = crun - ms("crun-wrapper")
print()
print(f"bwrap net of its sh wrapper:          {bwrap_net:6.2f} ms")
print(f"crun net of its unshare -m wrapper:   {crun_net:6.2f} ms")
print(f"moat / bwrap  raw {moat / bwrap:5.2f}   net {moat / bwrap_net:5.2f}   target <= 0.70")
print(f"moat / crun   raw {moat / crun:5.2f}   net {moat / crun_net:5.2f}   target <= 0.30")
EOF
cat "$out_dir/other-load.txt"
