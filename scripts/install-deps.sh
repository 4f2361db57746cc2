#!/usr/bin/env bash
# Installs every Debian 12 package Moat needs to build, test and run. Idempotent: packages
# already present are skipped without touching the network.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git clang-format clang-tidy
  # libraries (issue 3: the wall)
  libseccomp-dev libcap-dev libexpected-dev nlohmann-json3-dev libtomlplusplus-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev hyperfine
  # peers measured in the same benchmark run
  bubblewrap crun uidmap
  # run time and test tools
  iproute2 procps psmisc util-linux passwd strace python3
  # QEMU guests: the cgroup v2 guest of tests/vm and VM sessions (agent/vm, docs/vm.md); the
  # kernel comes from apt-get download, unpacked by agent/vm/fetch-kernel.sh
  qemu-system-x86 busybox-static cpio xz-utils
  # the VM guests' own small kernel (agent/vm/build-kernel.sh): Debian's kernel source and
  # what building it needs (gcc, make, bc and libssl-dev are above or in build-essential;
  # libelf-dev is for objtool, flex and bison for Kconfig, patch for agent/vm/guest-kernel-patches)
  linux-source-6.1 flex bison libelf-dev patch
  # the session database and the broker's crypto (issue "Control plane")
  libsqlite3-dev sqlite3 libssl-dev
  # PAM logins of the broker (users whose source is 'pam'); the .deb is made by CPack
  libpam0g-dev
  # the broker's HTTPS/WSS server (Boost.Beast and Asio, header-only)
  libboost1.81-dev
  # desktop sessions (issue 6): Xvnc on a Unix socket, the window manager, the default
  # start-up, and xprop for the window manager's readiness (_OB_THEME)
  tigervnc-standalone-server openbox xterm x11-utils
  # moat-console (issue 7): Qt 6 Widgets, Network, WebSockets, Charts; Xvfb for its UI tests
  # (offscreen works too)
  qt6-base-dev qt6-base-dev-tools libqt6opengl6-dev qt6-websockets-dev qt6-charts-dev xvfb xauth
  # desktops in the browser (issue 6): noVNC, which the broker serves at /novnc/; Chromium for
  # the web login page's tests (tests/e2e/browser); a native VNC viewer for the display gateway
  novnc chromium tigervnc-viewer
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#packages[@]} packages present"
fi

# The browser tests' driver (tests/e2e/browser): playwright-core from the npm registry, pinned in
# package-lock.json. It drives Debian's chromium and never downloads a browser of its own.
browser_tests=$repo/tests/e2e/browser
if [[ ! -d $browser_tests/node_modules ||
  $browser_tests/package-lock.json -nt $browser_tests/node_modules/.package-lock.json ]]; then
  if ! command -v npm >/dev/null; then
    echo "install-deps: installing npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends npm
  fi
  echo "install-deps: npm ci in tests/e2e/browser"
  (cd "$browser_tests" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
else
  echo "install-deps: tests/e2e/browser/node_modules present"
fi
