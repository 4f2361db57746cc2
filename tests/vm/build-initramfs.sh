#!/usr/bin/env bash
# Builds the test guest's initramfs: busybox-static for the base system, a few of the host's own
# tools where the tests need their exact behaviour, the kernel modules fetch-kernel.sh cached,
# the test command with every binary it names (each at its host path, with the shared
# libraries ldd lists), and /init (guest-init.sh).
#
#   build-initramfs.sh --output FILE --kernel-dir DIR [--name NAME] [--timeout SECONDS]
#                      [--file PATH]... -- COMMAND [ARG]...
#
#   --file PATH     also copy PATH into the guest at the same path (its libraries too, for an
#                   ELF file). moat-sandbox and moat-init go in this way, so the path baked
#                   into the test binaries (MOAT_SANDBOX_BIN) holds in the guest too.
#   COMMAND         run by the guest's /init; COMMAND itself is copied like --file.
#
# Environment: MOAT_VM_PYTHON_MODULES (default "socket encodings.idna"): the modules whose
# import closure goes in with /usr/bin/python3; set it empty to leave python3 out.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Host tools that replace or add to busybox's applets, because the tests depend on their
# options or output: rm --one-file-system (ScratchRunDir), ps -u (the lifecycle tests' trace
# check); and ones busybox lacks: ipcs, pgrep, findmnt, bash.
host_tools=(/usr/bin/rm /usr/bin/ps /usr/bin/ipcs /usr/bin/pgrep /usr/bin/findmnt /usr/bin/bash)
python_modules="${MOAT_VM_PYTHON_MODULES-socket encodings.idna}"

output=""
kernel_dir=""
name="vm-test"
timeout=540
files=()
command=()

die() { echo "build-initramfs: $*" >&2; exit 1; }

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --output) output="$2"; shift 2 ;;
      --kernel-dir) kernel_dir="$2"; shift 2 ;;
      --name) name="$2"; shift 2 ;;
      --timeout) timeout="$2"; shift 2 ;;
      --file) files+=("$2"); shift 2 ;;
      --) shift; command=("$@"); break ;;
      *) die "unknown argument '$1'" ;;
    esac
  done
  [[ -n "$output" && -n "$kernel_dir" ]] || die "--output and --kernel-dir are required"
  ((${#command[@]})) || die "no command after --"
  [[ -x "${command[0]}" ]] || die "'${command[0]}' is not an executable file"
}

# Copies a host file to the same path in the stage, following symlinks.
stage_file() {
  local path="$1" target="$2"
  mkdir -p "$stage$(dirname "$target")"
  cp -L --preserve=mode "$path" "$stage$target"
}

# The shared libraries and loader of an ELF file, as ldd resolves them on this host.
libraries_of() {
  ldd "$1" 2>/dev/null | sed -n 's/.*=> \(\/[^ ]*\) (.*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'
}

stage_binary() {
  local path="$1" library
  stage_file "$path" "$path"
  for library in $(libraries_of "$path"); do
    [[ -e "$stage$library" ]] || stage_file "$library" "$library"
  done
}

# Debian's layout: /bin, /sbin, /lib and /lib64 are symlinks into /usr (merged /usr), so paths
# the host's ldd prints resolve the same way in the guest.
make_layout() {
  local dir
  mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64}
  for dir in bin sbin lib lib64; do
    if [[ -L "/$dir" ]]; then ln -s "usr/$dir" "$stage/$dir"; else mkdir "$stage/$dir"; fi
  done
  mkdir -p "$stage"/{etc/moat-vm,proc,sys,dev,run,tmp,root,home,var/tmp,lib/modules/moat-vm}
  chmod 1777 "$stage/tmp" "$stage/var/tmp"
  chmod 0700 "$stage/root"
  # Only root may mknod; the kernel's built-in initramfs has a /dev/console anyway.
  mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
  mknod -m 666 "$stage/dev/null" c 1 3 2>/dev/null || true
}

stage_busybox() {
  local busybox applet
  busybox=$(command -v busybox) || die "busybox is missing: apt-get install busybox-static"
  ldd "$busybox" >/dev/null 2>&1 && die "'$busybox' is dynamic: install busybox-static"
  cp "$busybox" "$stage/usr/bin/busybox"
  for applet in $("$busybox" --list); do
    [[ "$applet" == busybox ]] && continue
    [[ -e "$stage/usr/bin/$applet" ]] || ln -s busybox "$stage/usr/bin/$applet"
  done
}

stage_host_tools() {
  local tool
  for tool in "${host_tools[@]}"; do
    [[ -x "$tool" ]] || die "'$tool' is missing (procps, util-linux and coreutils are needed)"
    rm -f "$stage$tool"
    stage_binary "$tool"
  done
  install -m 0755 "$here/useradd-shim.sh" "$stage/usr/sbin/useradd"
}

# Debian's python3 with only the modules the tests import: the interpreter is ~7 MB, the whole
# standard library ~40 MB. The closure is what the host's python3 loads for those imports.
stage_python() {
  [[ -n "$python_modules" ]] || return 0
  local python=/usr/bin/python3 file cached
  shopt -s nullglob
  [[ -x "$python" ]] || die "'$python' is missing (or set MOAT_VM_PYTHON_MODULES='')"
  stage_binary "$python"
  local imports="import ${python_modules// /, }"
  while read -r file; do
    [[ -n "$file" ]] || continue
    stage_file "$file" "$file"
    for cached in "$(dirname "$file")/__pycache__/$(basename "$file" .py)".cpython-*.pyc; do
      stage_file "$cached" "$cached"
    done
  done < <("$python" -c "$imports
import sys
for module in list(sys.modules.values()):
    path = getattr(module, '__file__', None) or ''
    if path.startswith(sys.prefix + '/lib/python3'):
        print(path)")
  # Without lib-dynload python3 warns about "platform dependent libraries" on every start.
  local stdlib
  stdlib=$("$python" -c 'import sysconfig; print(sysconfig.get_path("platstdlib"))')
  mkdir -p "$stage$stdlib/lib-dynload"
}

stage_modules() {
  local module
  [[ -f "$kernel_dir/modules/order" ]] || return 0
  cp "$kernel_dir/modules/order" "$stage/lib/modules/moat-vm/order"
  while read -r module; do
    [[ -n "$module" ]] && cp "$kernel_dir/modules/$module.ko" "$stage/lib/modules/moat-vm/"
  done <"$kernel_dir/modules/order"
}

# Only root and nobody: the tests create their users with useradd (the shim), as on a fresh host.
stage_etc() {
  cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
  cat >"$stage/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
  cat >"$stage/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
  chmod 0640 "$stage/etc/shadow"
  printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$stage/etc/nsswitch.conf"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"
  echo moat-vm >"$stage/etc/hostname"
  : >"$stage/etc/fstab"
}

# Single-quotes one word for sh.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

stage_test() {
  local word line="exec"
  for word in "${command[@]}"; do line+=" $(quote "$word")"; done
  printf '%s\n' "$line" >"$stage/etc/moat-vm/test.sh"
  printf 'MOAT_VM_NAME=%s\nMOAT_VM_TEST_TIMEOUT=%s\n' "$(quote "$name")" "$(quote "$timeout")" \
    >"$stage/etc/moat-vm/test.conf"
  install -m 0755 "$here/guest-init.sh" "$stage/init"
}

# Debug info is most of a RelWithDebInfo test binary and the guest never needs it: smaller
# archive, faster boot under TCG.
strip_debug() {
  command -v strip >/dev/null || return 0
  local file
  for file in "${files[@]}" "${command[0]}"; do
    strip --strip-debug "$stage$(realpath -s "$file")" 2>/dev/null || true
  done
}

main() {
  parse_args "$@"
  stage=$(mktemp -d "${TMPDIR:-/tmp}/moat-vm-initramfs.XXXXXX")
  trap 'rm -rf "${stage:?}"' EXIT
  make_layout
  stage_host_tools
  stage_busybox
  stage_python
  stage_modules
  stage_etc
  local file
  for file in "${files[@]}" "${command[0]}"; do
    [[ -e "$file" ]] || die "'$file' does not exist"
    stage_binary "$(realpath -s "$file")"
  done
  strip_debug
  stage_test
  # The loader's cache for the staged tree, so libraries are found as on the host.
  ldconfig -r "$stage" 2>/dev/null || true
  # Uncompressed: under TCG the kernel inflates gzip at a fraction of native speed, while QEMU
  # hands the guest an uncompressed archive for nothing.
  (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) \
    >"$output.tmp"
  mv "$output.tmp" "$output"
  echo "build-initramfs: $output ($(du -h "$output" | cut -f1))" >&2
}

main "$@"
