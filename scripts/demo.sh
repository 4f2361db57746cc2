#!/usr/bin/env bash
# Command 1 until the broker exists: installs, builds, and opens an interactive shell inside a
# fresh session wall, showing first what the session cannot see.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/install-deps.sh"
"$repo/scripts/build.sh"
id moat-demo >/dev/null 2>&1 || useradd --create-home --shell /bin/bash moat-demo
sandbox=${MOAT_BUILD_DIR:-$repo/build}/sandbox/moat-sandbox
show='echo "== inside Moat session $MOAT_SESSION_ID as $(id -un) (uid $(id -u)) on $(hostname)";
echo "processes visible:"; ps -e -o pid,user,comm;
echo "network: $(ls /sys/class/net | tr "\n" " ")";
echo "homes visible: $(ls /home)"; echo "/run: $(ls -A /run | tr "\n" " ")";
grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status;
if [ -s /etc/shadow ]; then echo "/etc/shadow: has content (unexpected)"; else echo "/etc/shadow: masked (empty)"; fi;
echo "type exit to end the session; everything in it is then removed."'
exec "$sandbox" run --user moat-demo -- /bin/bash -c "$show; exec bash -l"
