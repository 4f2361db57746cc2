#!/usr/bin/env bash
# Configures and builds Moat with Ninja and ccache into ./build (or $MOAT_BUILD_DIR).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${MOAT_BUILD_DIR:-$repo/build}
export CCACHE_BASEDIR=$repo CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -G Ninja -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=${MOAT_BUILD_TYPE:-RelWithDebInfo} \
  -DMOAT_WERROR=${MOAT_WERROR:-ON}
ninja -C "$build" -j "$(nproc)"
