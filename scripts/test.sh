#!/usr/bin/env bash
# Command 2: installs, builds and runs the whole test suite through ctest.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/install-deps.sh"
"$repo/scripts/build.sh"
cd "${MOAT_BUILD_DIR:-$repo/build}"
status=0
ctest --output-on-failure --timeout 900 "$@" || status=$?
# ctest shows no output for skipped tests: print why each one skipped.
log=Testing/Temporary/LastTest.log
if [[ -f $log ]] && grep -q ": Skipped" "$log"; then
  echo "Skip reasons:"
  grep -A1 ": Skipped" "$log" | grep -v -e ": Skipped" -e "^--$" | sed 's/^/  /'
fi
exit "$status"
