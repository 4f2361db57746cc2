#!/bin/bash
# Where a wall's time goes, step by step: exports COMMIT (default HEAD) to a temporary tree,
# applies wall_probes.patch (timestamps at each step of create, run and stop; not part of
# Moat), builds it, times RUNS back-to-back `moat-sandbox run -- /bin/true` and RUNS more
# with 100 ms of idle before each (the kernel's RCU-synchronised state gone cold), and
# prints per-step medians. The patch was made against d1c1383: refresh it when the steps move.
#
#   tests/bench/profile/profile_wall.sh [COMMIT] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
commit=${1:-HEAD}
runs=${2:-50}
[[ $(id -u) -eq 0 ]] || { echo "profile_wall.sh: needs root" >&2; exit 1; }
id moat-bench >/dev/null 2>&1 || useradd -m moat-bench

tree=$(mktemp -d /tmp/moat-probes.XXXXXX)
git -C "$repo" archive "$commit" | tar -x -C "$tree"
(cd "$tree" && git apply "$here/wall_probes.patch")
cmake -G Ninja -S "$tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
nice ninja -j1 -C "$tree/build" moat-sandbox moat-init >/dev/null
sandbox=$tree/build/sandbox/moat-sandbox
run_dir=$tree/run

measure() {  # LOG GAP_SECONDS
  for _ in 1 2 3; do "$sandbox" --run-dir "$run_dir" run --user moat-bench -- /bin/true; done
  rm -f /tmp/moat-prof.log
  for _ in $(seq "$runs"); do
    if [[ $2 != 0 ]]; then sleep "$2"; fi
    "$sandbox" --run-dir "$run_dir" run --user moat-bench -- /bin/true
  done
  mv /tmp/moat-prof.log "$1"
}

"$here/../wait_quiet.sh" || true
measure "$tree/warm.log" 0
measure "$tree/cold.log" 0.1
echo "== back to back (warm)"
python3 "$here/probe_report.py" "$tree/warm.log"
echo
echo "== 100 ms idle before each wall (cold)"
python3 "$here/probe_report.py" "$tree/cold.log"
echo
echo "logs and build: $tree"
