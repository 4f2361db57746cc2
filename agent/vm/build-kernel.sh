#!/usr/bin/env bash
# Builds the VM sessions' own small guest kernel from Debian's linux-source-6.1 package and
# prints the cache directory that holds it (vmlinux, config, package, .complete), in the layout
# of fetch-kernel.sh's Debian kernels:
#
#   build-kernel.sh        -> prints e.g. /var/cache/moat-vm/kernels/moat-6.1.192-2-1a2b3c4d5e6f
#
# The kernel is `make tinyconfig` plus agent/vm/guest-kernel.config, every driver built in: a
# VM's /init loads no modules (Debian's virtio, 9p and overlay modules cost 160-180 ms of each
# boot under TCG) and the guest's image and slab are a fraction of Debian's (docs/vm.md, "The
# kernel, and boot times"). The cache key is the source package's version and a hash of the
# fragment's settings, the recipe and the compiler: any change builds a new kernel beside the
# old ones (a guest that is booting keeps its file). Idempotent: a cached kernel is printed at once.
#
# The compile runs at nice 19 on every CPU and takes a few minutes (docs/vm.md). It takes no
# project lock; one build at a time per cache (ctest may start several VM tests at once).
#
# Exit status 3 with the reason on stderr when the source package or a build tool is missing
# (scripts/install-deps.sh installs them): build-guest.sh then falls back to Debian's kernel.
# Any other failure is an error, with the end of the build log.
#
# Environment:
#   MOAT_VM_CACHE         cache root (default /var/cache/moat-vm as root)
#   MOAT_VM_KERNEL_JOBS   make -j (default: the number of CPUs)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=vm-lib.sh
. "$here/vm-lib.sh"
readonly missing_code=3
readonly source_package=linux-source-6.1
readonly fragment="$here/guest-kernel.config"
# Small fixes to Debian's source, applied in name order (each says why in its hunk).
readonly patches="$here/guest-kernel-patches"

log() { echo "build-kernel: $*" >&2; }
die() { log "$*"; exit 1; }
missing() { log "$*"; exit "$missing_code"; }

[[ -r "$fragment" ]] || die "'$fragment' is missing"
version=$(dpkg-query -W -f='${Status} ${Version}' "$source_package" 2>/dev/null |
  sed -n 's/^install ok installed //p') || true
[[ -n "$version" ]] || missing "$source_package is not installed (scripts/install-deps.sh)"
tarball=$(dpkg-query -L "$source_package" | grep -m1 '/linux-source-[^/]*\.tar\.xz$') ||
  missing "$source_package lists no source tarball"
[[ -r "$tarball" ]] || missing "'$tarball' is missing: reinstall $source_package"
for tool in gcc make flex bison bc perl xz patch; do
  command -v "$tool" >/dev/null || missing "no '$tool': scripts/install-deps.sh installs it"
done
# objtool (built with the kernel) needs libelf's header.
[[ -e /usr/include/gelf.h ]] || missing "no libelf headers: install libelf-dev"

# The key: what decides the kernel's bytes: the source, the fragment's settings (not its
# comments), the patches, how this script builds (recipe: bump it when the steps change) and
# the compiler.
readonly recipe=2
key=$( {
  echo "$version recipe $recipe"
  grep -E '^(CONFIG_|# CONFIG_.* is not set)' "$fragment"
  cat "$patches"/*.patch
  gcc --version | head -n 1
} | sha256sum | cut -c1-12)
cache=$(moat_vm_cache_dir)
kernels="$cache/kernels"
name="moat-$version-$key"
dir="$kernels/$name"
if [[ -f "$dir/.complete" ]]; then
  echo "$dir"
  exit 0
fi

mkdir -p "$kernels"
exec 9>"$cache/.kernel-build.lock"
flock 9
if [[ -f "$dir/.complete" ]]; then
  echo "$dir"
  exit 0
fi

scratch=$(mktemp -d "$cache/.kernel-build.XXXXXX")
trap 'rm -rf "${scratch:?}"' EXIT
jobs=${MOAT_VM_KERNEL_JOBS:-$(nproc)}
started=$(date +%s)
log "building $name from $tarball (make -j$jobs at nice 19; a few minutes)"
tar -xJf "$tarball" -C "$scratch" || die "unpacking '$tarball' failed"
src=$(find "$scratch" -mindepth 1 -maxdepth 1 -type d -name 'linux-source-*' -print -quit)
[[ -n "$src" ]] || die "'$tarball' holds no linux-source-* directory"
build_log="$scratch/build.log"
for patch_file in "$patches"/*.patch; do
  patch -d "$src" -p1 --quiet --forward <"$patch_file" >>"$build_log" 2>&1 ||
    die "'$patch_file' does not apply to $source_package $version"
done

kmake() { nice -n 19 make -C "$src" ARCH=x86_64 "$@" >>"$build_log" 2>&1; }
fail_build() {
  log "$1 failed; the end of the build log:"
  tail -n 30 "$build_log" >&2
  exit 1
}

kmake tinyconfig || fail_build "make tinyconfig"
# -n: allnoconfig semantics, so a symbol that ACPI or 9p makes visible stays off unless the
# fragment names it (alldefconfig would switch on every default-y driver under it).
(cd "$src" && ARCH=x86_64 nice -n 19 scripts/kconfig/merge_config.sh -n .config "$fragment") \
  >>"$build_log" 2>&1 || fail_build "merge_config.sh"
# Every line of the fragment must hold: Kconfig silently drops a value whose dependencies are
# missing, which would make a guest fail at boot far from the cause.
unmet=""
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=*) grep -qxF -- "$line" "$src/.config" || unmet+=" $line" ;;
    "# CONFIG_"*" is not set")
      symbol=${line#"# "}
      symbol=${symbol%% *}
      grep -q "^$symbol=" "$src/.config" && unmet+=" $symbol=n"
      ;;
  esac
done <"$fragment"
[[ -z "$unmet" ]] || die "guest-kernel.config does not hold in the final .config:$unmet"

kmake -j"$jobs" vmlinux || fail_build "make vmlinux"
out="$scratch/out"
mkdir "$out"
cp "$src/vmlinux" "$out/vmlinux"
# Symbols and debug sections are not loaded by QEMU but make the file bigger.
strip --strip-debug "$out/vmlinux"
moat_vm_trim_bss "$out/vmlinux"
cp "$src/.config" "$out/config"
echo "$source_package $version + guest-kernel.config ($key)" >"$out/package"
: >"$out/.complete"
chmod -R a+rX "$out"
rm -rf "$dir"
mv "$out" "$dir"
log "built $dir in $(($(date +%s) - started)) s ($(du -h "$dir/vmlinux" | cut -f1) vmlinux)"
echo "$dir"
