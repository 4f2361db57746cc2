#!/bin/bash
# Runs the wall benchmark (moat-bench-wall, through the library), the peer comparison
# (peers.sh, through the CLI) and the control-plane benchmark (moat-bench-api, against a real
# moat-broker) and prints one summary. See docs/performance.md.
#
#   tests/bench/run_all.sh [--build-dir DIR] [--out DIR] [--runs N] [--repetitions N]
#                          [--idle-walls N] [--ingest-s N]
#
# Needs root. MOAT_BENCH_COMMIT overrides the commit printed (for a build of an exported tree).
# Build first (Release):
#   cmake -G Ninja -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
#   ninja -C build-bench moat-sandbox moat-init moat-bench-wall moat-seccomp-export \
#     moat-broker moat-bench-api
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build_dir=""
out_dir=""
runs=100
repetitions=5
idle_walls=20
ingest_s=60

while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --out) out_dir=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --repetitions) repetitions=$2; shift 2 ;;
    --idle-walls) idle_walls=$2; shift 2 ;;
    --ingest-s) ingest_s=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *) echo "run_all.sh: unknown flag '$1'" >&2; exit 2 ;;
  esac
done
if [[ -z $build_dir ]]; then
  build_dir=$repo/build-bench
  [[ -x $build_dir/tests/bench/moat-bench-wall ]] || build_dir=$repo/build
fi
out_dir=${out_dir:-$(mktemp -d /tmp/moat-bench.XXXXXX)}
mkdir -p "$out_dir"
bench=$build_dir/tests/bench/moat-bench-wall
[[ -x $bench ]] || { echo "run_all.sh: '$bench' is missing: build moat-bench-wall" >&2; exit 1; }

{
  echo "date:        $(date -u +%FT%TZ)"
  commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
  echo "commit:      ${MOAT_BENCH_COMMIT:-$commit}"
  echo "cpus:        $(nproc)  ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
  echo "kernel:      $(uname -r)"
  echo "memory:      $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "cgroups:     $(stat -f -c %T /sys/fs/cgroup)$(mountpoint -q /sys/fs/cgroup/unified &&
    echo " + cgroup2 at /sys/fs/cgroup/unified (hybrid)")"
  echo "load:        $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "bwrap:       $(bwrap --version 2>/dev/null || echo missing)"
  echo "crun:        $(crun --version 2>/dev/null | head -1 || echo missing)"
  echo "hyperfine:   $(hyperfine --version 2>/dev/null || echo missing)"
} | tee "$out_dir/machine.txt"

# Peers first: the library benchmark ends hundreds of walls, and the kernel frees their
# network namespaces in the background for a while afterwards.
echo
echo "== peers.sh (CLI against bwrap and crun), $runs runs each =="
"$here/peers.sh" --build-dir "$build_dir" --out "$out_dir/peers" --runs "$runs"

echo
echo "== moat-bench-wall (library API), $repetitions repetitions =="
"$here/wait_quiet.sh" || true
"$bench" --benchmark_repetitions="$repetitions" --benchmark_report_aggregates_only=true \
  --benchmark_out="$out_dir/wall.json" --benchmark_out_format=json \
  --bench_idle_walls="$idle_walls" | tee "$out_dir/wall.txt"

echo
echo "== summary =="
cat "$out_dir/machine.txt"
python3 - "$out_dir/wall.json" <<'EOF'
import json, sys
data = json.load(open(sys.argv[1]))["benchmarks"]
medians = {b["run_name"]: b for b in data if b.get("aggregate_name") == "median"}
if not medians:  # a single repetition reports no aggregates
    medians = {b["run_name"]: b for b in data if b.get("run_type") == "iteration"}
print()
print("library API, medians of the repetitions:")
for name, b in medians.items():
    if "Memory" in name or "Seccomp" in name:
        continue
    parts = [f"{b['real_time']:.2f} ms per wall"]
    parts += [f"{k} {b[k]:.2f}" for k in ("create_ms", "run_ms", "stop_ms") if k in b]
    print(f"  {name:<44} " + ", ".join(parts))
for name, b in medians.items():
    if "Seccomp" in name:
        print(f"  {name:<44} {b['real_time']:.0f} us per compile")
for name, b in medians.items():
    if "Memory" not in name:
        continue
    print(f"idle wall memory, KiB per wall (median of repetitions, {int(b['walls'])} walls):")
    for key in ("marginal_wall_kib", "wall_kib", "wall_kernel_kib", "wall_user_kib",
                "clone_side_kib", "session_cgroup_kib", "init_pss_kib", "init_private_kib",
                "init_rss_kib",
                "memavail_up_kib", "memavail_down_kib", "slab_unrecl_kib", "slab_recl_kib",
                "pagetables_kib", "kstack_kib", "percpu_kib"):
        if key in b:
            print(f"  {key:<20} {b[key]:8.0f}")
EOF
echo
cat "$out_dir/peers/summary.txt" "$out_dir/peers/other-load.txt"

# Control plane (issue 5): its own broker on a fresh state directory, ports chosen free.
api=$build_dir/tests/bench/moat-bench-api
echo
if [[ ! -x $api ]]; then
  echo "== moat-bench-api skipped: '$api' is missing: build moat-broker moat-bench-api =="
else
  echo "== moat-bench-api (control plane against a real moat-broker) =="
  "$here/wait_quiet.sh" || true
  "$api" --bench_ingest_s="$ingest_s" --benchmark_out="$out_dir/api.json" \
    --benchmark_out_format=json 2>&1 | tee "$out_dir/api.txt"
  python3 - "$out_dir/api.json" <<'EOF'
import json, sys
runs = [b for b in json.load(open(sys.argv[1]))["benchmarks"] if b.get("run_type") == "iteration"]
print()
print("session listing, 1000 sessions in the database (target >= 5000 listings/s):")
for b in runs:
    if b["name"].startswith("BM_ListSessions"):
        extra = ""
        if "broker_cpu_us_per_req" in b:
            extra = (f"  broker {b['broker_cpu_us_per_req']:.0f} us CPU/req,"
                     f" client {b['client_cpu_us_per_req']:.0f} us")
        print(f"  {b['name']:<66} {b['items_per_second']:9.0f}/s{extra}")
for b in runs:
    if b["name"].startswith("BM_UsageIngest"):
        print("usage ingestion, 1000 sessions at 1 Hz (target < 5 % of one core): "
              f"{b['net_cpu_pct']:.2f} % net ({b['ingest_cpu_pct']:.2f} % during, "
              f"{b['idle_cpu_pct']:.2f} % idle), rows {b['rows_landed']:.0f}/{b['rows_expected']:.0f}")
EOF
fi
echo
echo "all results: $out_dir"
