#!/usr/bin/env bash
# Prepares what every VM session boots (agent/src/vm): the guest kernel, an initramfs whose
# /init is moat-init itself (sandbox/src/init/vm_guest_boot.h: it builds the session's root,
# no shell involved), and the accelerator chosen by a probe boot (vm-lib.sh; its probe
# initramfs is busybox-static's, as is the benchmark's floor). The kernel is the project's own
# (build-kernel.sh: Debian's linux-source with every driver a session needs built in) unless
# --kernel debian asks for Debian's linux-image (fetch-kernel.sh), whose virtio, 9p and overlay
# modules then go into the initramfs. Where the source or the toolchain is missing, Debian's
# kernel is used, with a warning. Writes
#   DIR/initramfs.cpio   uncompressed: under TCG the kernel inflates at emulation speed
#   DIR/guest.env        kernel=, initramfs=, accel=, tsc_khz=, kernel_package= (GuestImage)
# Both, and the kernel, must be readable by the session users: QEMU runs as the session's user.
#
#   build-guest.sh --moat-init PATH --output DIR [--kernel moat|debian]
#
# MOAT_VM_KERNEL=moat|debian is the default for --kernel (tests and benchmarks pass it on).
#
# Exit status 77 with "SKIP: reason" when no guest can be booted here at all (no QEMU, no
# busybox-static, no kernel, no accelerator that boots it).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=vm-lib.sh
. "$here/vm-lib.sh"
qemu="${MOAT_VM_QEMU:-qemu-system-x86_64}"
readonly skip_code=77

moat_init=""
output=""
kernel="${MOAT_VM_KERNEL:-moat}"

die() { echo "build-guest: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit "$skip_code"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --moat-init) moat_init="$2"; shift 2 ;;
    --output) output="$2"; shift 2 ;;
    --kernel) kernel="$2"; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[[ -n "$moat_init" && -n "$output" ]] || die "--moat-init and --output are required"
[[ -x "$moat_init" ]] || die "'$moat_init' is not an executable file"
ldd "$moat_init" >/dev/null 2>&1 && die "'$moat_init' is dynamic: the guest needs it static"

command -v "$qemu" >/dev/null ||
  skip "$qemu is not installed (scripts/install-deps.sh installs qemu-system-x86)"
busybox=$(command -v busybox) ||
  skip "busybox is not installed (scripts/install-deps.sh installs busybox-static)"
ldd "$busybox" >/dev/null 2>&1 && skip "'$busybox' is dynamic: install busybox-static"
case "$kernel" in
  moat)
    # Status 3: no source package or toolchain here (its reason is on stderr).
    kernel_status=0
    kernel_dir=$("$here/build-kernel.sh") || kernel_status=$?
    if ((kernel_status == 3)); then
      echo "build-guest: warning: cannot build the guest kernel here; using Debian's" \
        "(slower to boot, bigger: docs/vm.md)" >&2
      kernel=debian
    elif ((kernel_status != 0)); then
      die "building the guest kernel failed (agent/vm/build-kernel.sh, above)"
    fi
    ;;
  debian) ;;
  *) die "--kernel must be moat or debian, not '$kernel'" ;;
esac
if [[ "$kernel" == debian ]]; then
  kernel_dir=$("$here/fetch-kernel.sh") || skip "no Debian kernel to boot (fetch-kernel.sh failed)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/moat-vm-guest.XXXXXX")
trap 'rm -rf "${work:?}"' EXIT
accel=$(moat_vm_choose_accel "$kernel_dir" "$work") ||
  skip "QEMU cannot boot the kernel in $kernel_dir here under kvm or tcg (see the log above)"

stage="$work/stage"
mkdir -p "$stage"/{dev,proc,lib/modules/moat-vm}
mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
# Debian's kernel builds the session's drivers as modules; the project's has them built in and
# no modules/ at all, so its initramfs has no order file and /init loads nothing.
# The Debian kernel cache also serves tests/vm's guest (a virtio-blk /home with ext4): only what
# a VM session needs goes in, in fetch-kernel.sh's load order.
if [[ -f "$kernel_dir/modules/order" ]]; then
  vm_modules=" virtio virtio_ring virtio_mmio virtio_console 9pnet 9pnet_virtio netfs fscache 9p overlay virtio_balloon "
  while read -r module; do
    [[ -n "$module" && "$vm_modules" == *" $module "* ]] || continue
    cp "$kernel_dir/modules/$module.ko" "$stage/lib/modules/moat-vm/"
    echo "$module" >>"$stage/lib/modules/moat-vm/order"
  done <"$kernel_dir/modules/order"
fi
install -m 0755 "$moat_init" "$stage/init"
strip --strip-all "$stage/init" 2>/dev/null || true

mkdir -p "$output"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) \
  >"$output/initramfs.cpio.tmp"
mv "$output/initramfs.cpio.tmp" "$output/initramfs.cpio"
chmod 0644 "$output/initramfs.cpio"
{
  echo "kernel=$(moat_vm_kernel_file "$kernel_dir")"
  echo "initramfs=$output/initramfs.cpio"
  echo "accel=$accel"
  echo "tsc_khz=$(moat_vm_host_tsc_khz)"
  echo "kernel_package=$(cat "$kernel_dir/package")"
} >"$output/guest.env.tmp"
mv "$output/guest.env.tmp" "$output/guest.env"
chmod 0644 "$output/guest.env"
echo "build-guest: $output ($kernel kernel, accel $accel, $(du -h "$output/initramfs.cpio" | cut -f1) initramfs)" >&2
