#!/usr/bin/env bash
# The cold wall on a kernel as booted. On these machines the kernel's cgroup favordynmods mode
# went on once and stays on until reboot (docs/performance.md), which hides the cost this
# measures: a cgroup.procs write after a pause waits a full RCU grace period. So the builds
# are timed in a QEMU guest (Debian's kernel, tests/vm) set up in the hosts' hybrid layout.
#
#   tests/bench/vm_cold_wall.sh [--runs N] DIR_A [DIR_B...]
#
# Each DIR holds moat-sandbox and moat-init (a build's sandbox/ directory, or a copy of an
# older one). Under TCG everything runs about 7 times slower than native and the guest's
# clock ticks in 4 ms steps; only differences between the builds mean anything.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=10
if [[ "${1:-}" == --runs ]]; then
  runs="$2"
  shift 2
fi
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "vm_cold_wall: --runs wants a whole number" >&2; exit 2; }
(($# >= 1)) || { echo "usage: vm_cold_wall.sh [--runs N] DIR_A [DIR_B...]" >&2; exit 2; }
files=(--file "$here/vm_cold_wall_guest.sh")
dirs=()
for dir in "$@"; do
  dir=$(cd "$dir" && pwd)
  for binary in moat-sandbox moat-init; do
    [[ -x "$dir/$binary" ]] || { echo "vm_cold_wall: no $dir/$binary" >&2; exit 2; }
    files+=(--file "$dir/$binary")
  done
  dirs+=("$dir")
done
"$here/../vm/run-in-vm.sh" --v1-allowed --name vm_cold_wall --timeout 900 "${files[@]}" -- \
  "$here/vm_cold_wall_guest.sh" "$runs" "${dirs[@]}" | grep '^vm_cold_wall:'
