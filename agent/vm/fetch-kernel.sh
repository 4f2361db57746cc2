#!/usr/bin/env bash
# Puts Debian's own amd64 kernel, and the few modules the guests need (tests/vm's cgroup v2
# guest and the VM sessions of agent/src/vm), into a cache directory
# and prints that directory. Idempotent: a kernel already cached is used without touching apt.
# Nothing is installed: the package is fetched with `apt-get download` and unpacked with
# `dpkg-deb -x` into a scratch directory, never into /boot or /lib/modules.
#
#   fetch-kernel.sh            -> prints e.g. /var/cache/moat-vm/kernels/6.1.0-56-amd64
#
# Environment:
#   MOAT_VM_CACHE           cache root (default /var/cache/moat-vm as root)
#   MOAT_VM_KERNEL_PACKAGE  a specific package, e.g. linux-image-6.1.0-56-amd64 (default: what
#                           the linux-image-amd64 metapackage depends on)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=vm-lib.sh
. "$here/vm-lib.sh"

cache=$(moat_vm_cache_dir)
kernels="$cache/kernels"

# Features the guest needs that Debian may build as modules: CONFIG symbol and module name, in
# load order (each module's own dependencies are added before it). Everything else the tests
# use (cgroup2 and its controllers, namespaces, seccomp, tmpfs, devtmpfs, blk-throttle, the
# 8250 serial console, which needs no virtio) is built in.
modules=(
  "CONFIG_OVERLAY_FS overlay"          # the session root is an overlay
  "CONFIG_VIRTIO_MMIO virtio_mmio"     # microvm's virtio transport, for the /home disk
  "CONFIG_VIRTIO_BLK virtio_blk"       # /home is a block device: io.max needs one, and O_DIRECT
  "CONFIG_CRYPTO_CRC32C crc32c_generic"  # ext4 checksums
  "CONFIG_EXT4_FS ext4"                # mounts the ext2 /home
  # VM sessions (agent/src/vm): the control port and the host's / and home over virtio-9p
  "CONFIG_VIRTIO_CONSOLE virtio_console"  # virtio-serial: moat-init's control port
  "CONFIG_NET_9P_VIRTIO 9pnet_virtio"  # 9p's virtio transport
  "CONFIG_9P_FS 9p"                    # the guest's root (read-only lower) and the user's home
  "CONFIG_VIRTIO_BALLOON virtio_balloon"  # memory max lowered live: the guest gives memory back
)
# Written into .complete: a cache made for another module list or vmlinux layout is fetched
# again.
cache_layout="4 ${modules[*]}"

scratch=""

log() { echo "fetch-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

# The package the metapackage points at, e.g. linux-image-6.1.0-56-amd64.
current_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}

newest_cached() {
  local dir
  dir=$(find "$kernels" -mindepth 2 -maxdepth 2 -name .complete -printf '%h\n' 2>/dev/null |
    sort -V | tail -n 1)
  [[ -n "$dir" ]] && echo "$dir"
}

resolve_package() {
  if [[ -n "${MOAT_VM_KERNEL_PACKAGE:-}" ]]; then
    echo "$MOAT_VM_KERNEL_PACKAGE"
    return
  fi
  local package
  package=$(current_package)
  if [[ -z "$package" ]]; then
    # An image without package lists (apt-get update never ran) knows no kernel yet.
    log "apt-cache knows no linux-image-amd64; running apt-get update"
    apt-get update -qq >&2 || true
    package=$(current_package)
  fi
  echo "$package"
}

# Loads the module file's dependencies first (they come from its .modinfo section, because
# the package ships no modules.dep: depmod runs only when the package is installed).
copy_module() {
  local tree="$1" name="$2" out="$3" file dep
  grep -qx "$name" "$out/order" 2>/dev/null && return
  file=$(find "$tree" -name "$name.ko" -print -quit)
  [[ -n "$file" ]] || die "module '$name' is not in the package"
  local depends
  depends=$(tr '\0' '\n' <"$file" | sed -n 's/^depends=//p' | head -n 1)
  for dep in ${depends//,/ }; do copy_module "$tree" "$dep" "$out"; done
  cp "$file" "$out/$name.ko"
  echo "$name" >>"$out/order"
}

# The uncompressed ELF kernel inside a bzImage, which QEMU boots through its PVH entry point
# (Debian sets CONFIG_PVH=y). Under TCG the kernel's own decompressor is a third of the boot,
# about 2.5 s here. The payload's place and length are in the x86 boot header (boot.rst:
# setup_sects at 0x1f1, payload_offset at 0x248, payload_length at 0x24c).
extract_vmlinux() {
  local bzimage="$1" out="$2" setup_sects offset length
  setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bzimage" | tr -d ' ')
  ((setup_sects)) || setup_sects=4
  offset=$(od -An -tu4 -j $((0x248)) -N4 "$bzimage" | tr -d ' ')
  length=$(od -An -tu4 -j $((0x24c)) -N4 "$bzimage" | tr -d ' ')
  local -a inflate
  case "$(tail -c +$(((setup_sects + 1) * 512 + offset + 1)) "$bzimage" | head -c 4 | od -An -tx1 |
    tr -d ' ')" in
    fd377a58) inflate=(xz -dc) ;;
    1f8b08*) inflate=(gzip -dc) ;;
    28b52ffd) inflate=(zstd -dcq) ;;
    *) log "unknown kernel payload compression: booting the bzImage"; return 0 ;;
  esac
  if ! command -v "${inflate[0]}" >/dev/null; then
    log "no ${inflate[0]}: booting the bzImage"
    return 0
  fi
  # The decompressors stop at the end of their stream; trailing bytes only make them complain.
  tail -c +$(((setup_sects + 1) * 512 + offset + 1)) "$bzimage" | head -c "$length" |
    "${inflate[@]}" >"$out.tmp" 2>/dev/null || true
  if [[ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' ')" == 7f454c46 ]]; then
    moat_vm_trim_bss "$out.tmp"
    mv "$out.tmp" "$out"
  else
    rm -f "$out.tmp"
    log "could not unpack the kernel's ELF image: booting the bzImage"
  fi
}

main() {
  mkdir -p "$kernels"
  local package version dir
  package=$(resolve_package)
  if [[ -z "$package" ]]; then
    if dir=$(newest_cached); then
      log "no kernel package found by apt; using the cached '$dir'"
      echo "$dir"
      return
    fi
    die "cannot find Debian's kernel package: is this Debian with apt sources for 'main'?"
  fi
  version=${package#linux-image-}
  dir="$kernels/$version"
  if [[ "$(cat "$dir/.complete" 2>/dev/null)" == "$cache_layout" ]]; then
    echo "$dir"
    return
  fi

  # One fetch at a time: ctest may start several VM tests at once.
  exec 9>"$cache/.fetch.lock"
  flock 9
  if [[ "$(cat "$dir/.complete" 2>/dev/null)" == "$cache_layout" ]]; then
    echo "$dir"
    return
  fi

  scratch=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "${scratch:?}"' EXIT
  # apt fetches as the unprivileged _apt user where it can; let it write here.
  if ((EUID == 0)) && id _apt >/dev/null 2>&1; then chown _apt "$scratch"; fi
  log "downloading $package"
  (cd "$scratch" && apt-get download -qq "$package" >&2) ||
    die "apt-get download '$package' failed: check the network and apt sources"
  mkdir "$scratch/root"
  dpkg-deb -x "$scratch"/"$package"_*.deb "$scratch/root"

  # Built beside the old one and swapped in: guests that boot meanwhile keep finding a kernel.
  local old="$dir.old.$$"
  dir="$dir.new.$$"
  rm -rf "$dir"
  mkdir -p "$dir/modules"
  cp "$scratch/root/boot/vmlinuz-$version" "$dir/vmlinuz"
  cp "$scratch/root/boot/config-$version" "$dir/config"
  extract_vmlinux "$dir/vmlinuz" "$dir/vmlinux"
  : >"$dir/modules/order"
  local entry symbol name value
  for entry in "${modules[@]}"; do
    read -r symbol name <<<"$entry"
    value=$(sed -n "s/^$symbol=//p" "$dir/config")
    case "$value" in
      y) ;;
      m) copy_module "$scratch/root/lib/modules/$version" "$name" "$dir/modules" ;;
      *) die "$package lacks $symbol (needed for '$name')" ;;
    esac
  done
  echo "$package" >"$dir/package"
  echo "$cache_layout" >"$dir/.complete"
  local final="$kernels/$version"
  [[ -e "$final" ]] && mv "$final" "$old"
  mv "$dir" "$final"
  rm -rf "$old"
  dir="$final"
  log "cached $package in $dir"
  echo "$dir"
}

main "$@"
