#!/usr/bin/env bash
# Command 1: installs what is missing, builds, and runs moat-broker in the foreground with its
# local moat-agent, on the embedded SQLite database (state in /var/lib/moat unless
# MOAT_STATE_DIR says otherwise). It prints where to log in and, on first start, the admin's
# password. Extra arguments go to moat-broker (see `moat-broker --help`).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/install-deps.sh"
"$repo/scripts/build.sh"
build=${MOAT_BUILD_DIR:-$repo/build}
# PAM logins for system users need the service file; an operator's own is kept.
[ -e /etc/pam.d/moat ] || install -m 0644 "$repo/packaging/pam/moat" /etc/pam.d/moat
# VM sessions (backend "vm") boot this guest image; where QEMU cannot boot one they stay off.
echo "Preparing the VM guest image (the first time compiles the small guest kernel: a few minutes)"
if ! "$repo/agent/vm/build-guest.sh" --moat-init "$build/sandbox/moat-init" \
    --output /var/cache/moat-vm/guest > /dev/null; then
  echo "VM sessions stay off here (agent/vm/build-guest.sh could not prepare a guest)"
fi
echo "moatctl is $build/session-broker/moatctl"
exec "$build/session-broker/moat-broker" --state.dir "${MOAT_STATE_DIR:-/var/lib/moat}" "$@"
