#!/usr/bin/env bash
# The cold wall on a kernel as booted. On these machines the kernel's cgroup favordynmods mode
# went on once and stays on until reboot (docs/performance.md), which hides the cost this
# measures: a cgroup.procs write after a pause waits a full RCU grace period. So the builds
# are timed in a QEMU guest (Debian's kernel, tests/vm), by default set up in the hosts' hybrid
# layout; with --layout v2 it keeps the guest's pure cgroup v2 (a Debian 12 install's default).
#
#   tests/bench/vm_cold_wall.sh [--runs N] [--layout hybrid|v2] DIR_A [DIR_B...]
#
# Each DIR holds moat-sandbox and moat-init (a build's sandbox/ directory, or a copy of an
# older one). Under TCG everything runs about 7 times slower than native and the guest's
# clock ticks in 4 ms steps; only differences between the builds mean anything.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=10
layout=hybrid
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --runs) runs="${2:-}" ;;
    --layout) layout="${2:-}" ;;
    *) echo "vm_cold_wall: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2 || { echo "vm_cold_wall: $1 wants a value" >&2; exit 2; }
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "vm_cold_wall: --runs wants a whole number" >&2; exit 2; }
[[ "$layout" == hybrid || "$layout" == v2 ]] ||
  { echo "vm_cold_wall: --layout is hybrid or v2, not '$layout'" >&2; exit 2; }
(($# >= 1)) || {
  echo "usage: vm_cold_wall.sh [--runs N] [--layout hybrid|v2] DIR_A [DIR_B...]" >&2
  exit 2
}
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
vm_flags=()
[[ "$layout" == hybrid ]] && vm_flags=(--v1-allowed)
"$here/../vm/run-in-vm.sh" "${vm_flags[@]}" --name vm_cold_wall --timeout 900 "${files[@]}" -- \
  "$here/vm_cold_wall_guest.sh" "$runs" "$layout" "${dirs[@]}" | grep '^vm_cold_wall:'
