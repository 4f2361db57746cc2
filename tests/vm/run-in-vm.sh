#!/usr/bin/env bash
# Runs one test command inside a QEMU guest whose kernel mounts only cgroup2, and exits with
# the command's status. The guest is Debian's own kernel (fetch-kernel.sh) and an initramfs
# (build-initramfs.sh); results come back on the serial console, which is echoed here.
#
#   run-in-vm.sh [--name NAME] [--timeout SECONDS] [--file PATH]... -- COMMAND [ARG]...
#
#   --name      the test's name in the guest's result line (default: COMMAND's file name)
#   --timeout   limit for the whole guest run, boot included (default 540)
#   --file      a file the command needs in the guest, copied to the same path (repeatable)
#   --v1-allowed  boot without cgroup_no_v1=all, so that the command can mount v1 hierarchies
#               (the build machines' hybrid layout, on a kernel as booted: tests/bench/vm_cold_wall.sh)
#
# Exit status: COMMAND's; 77 (registered as ctest's SKIP_RETURN_CODE) with "SKIP: reason"
# when no guest can be booted here at all; 1 when the guest broke down before reporting.
#
# Environment:
#   MOAT_VM_ACCEL   kvm or tcg: skip the probe boot and use this accelerator
#   MOAT_VM_CACHE   kernel and probe cache (default /var/cache/moat-vm as root)
#   MOAT_VM_MEMORY  guest memory in MiB (default 1024); MOAT_VM_CPUS (default 2)
#   MOAT_VM_KEEP    set to 1 to keep the work directory (initramfs, serial log)
#   MOAT_VM_QEMU    the QEMU binary (default qemu-system-x86_64)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The kernel, the accelerator probe and the TSC rate are shared with the VM sessions.
vm_dir=$(cd "$here/../../agent/vm" && pwd)
# shellcheck source=../../agent/vm/vm-lib.sh
. "$vm_dir/vm-lib.sh"
readonly skip_code=77
cache=$(moat_vm_cache_dir)
qemu="${MOAT_VM_QEMU:-qemu-system-x86_64}"

name=""
timeout=540
files=()
v1_allowed=0
command=()
work=""
accel=""

log() { echo "run-in-vm: $*" >&2; }
skip() { echo "SKIP: $*"; exit "$skip_code"; }

parse_args() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --name) name="$2"; shift 2 ;;
      --timeout) timeout="$2"; shift 2 ;;
      --file) files+=("$2"); shift 2 ;;
      --v1-allowed) v1_allowed=1; shift ;;
      --) shift; command=("$@"); break ;;
      *) log "unknown argument '$1'"; exit 2 ;;
    esac
  done
  ((${#command[@]})) || { log "no command after --"; exit 2; }
  [[ -n "$name" ]] || name=$(basename "${command[0]}")
}

cmdline() {
  local accel="$1" tsc
  tsc=$(moat_vm_host_tsc_khz)
  local v2_only="cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1"
  ((v1_allowed)) && v2_only=""
  echo "console=ttyS0 $v2_only" \
    "${tsc:+tsc_early_khz=$tsc} quiet panic=-1 moat.accel=$accel"
}

# The guest's /home: a sparse scratch disk that the guest formats. A real block device, because
# io.max throttles only block devices and tmpfs refuses O_DIRECT.
disk_args=()
attach_home_disk() {
  truncate -s 256M "$work/home.img"
  disk_args=(-drive "file=$work/home.img,if=none,id=home,format=raw,cache=unsafe"
    -device "virtio-blk-device,drive=home")
}

# Boots the guest with `accel`; its serial console goes to stdout. -no-reboot turns the
# guest's panic (panic=-1 reboots at once) into QEMU exiting.
boot() {
  local accel="$1" initrd="$2" limit="$3" cpu=max kernel
  [[ "$accel" == kvm ]] && cpu=host
  kernel=$(moat_vm_kernel_file "$kernel_dir")
  timeout -k 5 "$limit" "$qemu" \
    -M microvm -accel "$accel" -cpu "$cpu" \
    -m "${MOAT_VM_MEMORY:-1024}" -smp "${MOAT_VM_CPUS:-2}" \
    -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
    -kernel "$kernel" -initrd "$initrd" -append "$(cmdline "$accel")" \
    "${disk_args[@]}" \
    </dev/null 2>&1
}

# Sets `accel` (see moat_vm_choose_accel); exits with SKIP when neither accelerator boots.
choose_accel() {
  accel=$(moat_vm_choose_accel "$kernel_dir" "$work") ||
    skip "QEMU cannot boot Debian's kernel here under kvm or tcg (see the log above)"
}

# Echoes the serial console and notes when the guest reached its /init (stage 2).
relay() {
  local start="$1" line
  while IFS= read -r line || [[ -n "$line" ]]; do
    line=${line%$'\r'}
    printf '%s\n' "$line"
    if [[ "$line" == MOAT-VM-READY* ]]; then
      awk -v now="$EPOCHREALTIME" -v start="$start" \
        'BEGIN { printf "run-in-vm: guest userspace up %.1f s after QEMU started\n", now - start }'
    fi
  done
}

result_of() {
  sed -n "s/^MOAT-VM-RESULT: .* rc=\([^ ]*\)\$/\1/p" "$1" | tail -n 1
}

main() {
  parse_args "$@"
  command -v "$qemu" >/dev/null ||
    skip "$qemu is not installed (scripts/install-deps.sh installs qemu-system-x86)"
  command -v busybox >/dev/null ||
    skip "busybox is not installed (scripts/install-deps.sh installs busybox-static)"
  mkdir -p "$cache"
  kernel_dir=$("$vm_dir/fetch-kernel.sh") || skip "no Debian kernel to boot (fetch-kernel.sh failed)"

  work=$(mktemp -d "${TMPDIR:-/tmp}/moat-vm.XXXXXX")
  if [[ "${MOAT_VM_KEEP:-0}" == 1 ]]; then
    log "keeping $work"
  else
    trap 'rm -rf "${work:?}"' EXIT
  fi

  choose_accel
  log "accelerator: $accel; kernel: $(cat "$kernel_dir/package")"
  local -a file_args=()
  local file
  for file in "${files[@]}"; do file_args+=(--file "$file"); done
  "$here/build-initramfs.sh" --output "$work/guest.cpio" --kernel-dir "$kernel_dir" \
    --name "$name" --timeout "$((timeout > 60 ? timeout - 30 : timeout))" "${file_args[@]}" \
    -- "${command[@]}"

  attach_home_disk
  local start=$EPOCHREALTIME status=0
  boot "$accel" "$work/guest.cpio" "$timeout" | relay "$start" | tee "$work/serial.log" ||
    status=$?
  awk -v now="$EPOCHREALTIME" -v start="$start" \
    'BEGIN { printf "run-in-vm: guest ran %.1f s in all\n", now - start }' >&2

  local rc
  rc=$(result_of "$work/serial.log")
  if [[ -z "$rc" ]]; then
    if ((status == 124)); then
      log "the guest did not finish within ${timeout} s"
    else
      log "the guest stopped without a result line (QEMU status $status)"
    fi
    exit 1
  fi
  if [[ ! "$rc" =~ ^[0-9]+$ ]]; then
    log "the guest failed before running the test: $rc"
    exit 1
  fi
  # A test's own 77 must not read as a skip.
  ((rc == skip_code)) && { log "the test exited 77: reported as failure"; exit 1; }
  log "'$name' exited $rc in the guest"
  exit "$rc"
}

main "$@"
