#!/usr/bin/env bash
# Command 2: installs, builds and runs the whole test suite through ctest.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/install-deps.sh"
"$repo/scripts/build.sh"
cd "${MOAT_BUILD_DIR:-$repo/build}"
ctest --output-on-failure --timeout 900 "$@"
