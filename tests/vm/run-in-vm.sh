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
readonly skip_code=77
# root shares one cache; anyone else keeps their own.
default_cache=/var/cache/moat-vm
((EUID == 0)) || default_cache="${XDG_CACHE_HOME:-$HOME/.cache}/moat-vm"
cache="${MOAT_VM_CACHE:-$default_cache}"
qemu="${MOAT_VM_QEMU:-qemu-system-x86_64}"

name=""
timeout=540
files=()
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
      --) shift; command=("$@"); break ;;
      *) log "unknown argument '$1'"; exit 2 ;;
    esac
  done
  ((${#command[@]})) || { log "no command after --"; exit 2; }
  [[ -n "$name" ]] || name=$(basename "${command[0]}")
}

# The host's TSC rate in kHz. Without tsc_early_khz a TCG guest can spend seconds (or hang)
# calibrating its TSC against a timer that runs at emulation speed.
host_tsc_khz() {
  local mhz
  local pattern='s/.*tsc: \(Refined TSC clocksource calibration\|Detected\): \([0-9.]*\) MHz.*/\2/p'
  mhz=$(dmesg 2>/dev/null | sed -n "$pattern" | tail -n 1)
  [[ -n "$mhz" ]] ||
    mhz=$(sed -n 's/^cpu MHz[[:space:]]*: \([0-9.]*\)/\1/p' /proc/cpuinfo | head -n 1)
  [[ -n "$mhz" ]] || return 0
  awk -v mhz="$mhz" 'BEGIN { printf "%d\n", mhz * 1000 }'
}

cmdline() {
  local accel="$1" tsc
  tsc=$(host_tsc_khz)
  echo "console=ttyS0 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1" \
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
  local accel="$1" initrd="$2" limit="$3" cpu=max kernel="$kernel_dir/vmlinuz"
  [[ "$accel" == kvm ]] && cpu=host
  # The unpacked ELF kernel boots through PVH, skipping the decompressor (fetch-kernel.sh).
  [[ -f "$kernel_dir/vmlinux" ]] && kernel="$kernel_dir/vmlinux"
  timeout -k 5 "$limit" "$qemu" \
    -M microvm -accel "$accel" -cpu "$cpu" \
    -m "${MOAT_VM_MEMORY:-1024}" -smp "${MOAT_VM_CPUS:-2}" \
    -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
    -kernel "$kernel" -initrd "$initrd" -append "$(cmdline "$accel")" \
    "${disk_args[@]}" \
    </dev/null 2>&1
}

# A guest that only reaches its /init and powers off: busybox and a four-line script.
build_probe_initrd() {
  local stage="$work/probe"
  mkdir -p "$stage/bin" "$stage/dev"
  cp "$(command -v busybox)" "$stage/bin/busybox"
  mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
  printf '%s\n' '#!/bin/busybox sh' \
    '/bin/busybox echo MOAT-VM-PROBE-OK' \
    '/bin/busybox poweroff -f' >"$stage/init"
  chmod 0755 "$stage/init"
  (cd "$stage" && find . -mindepth 1 | cpio --quiet -o -H newc -R 0:0) >"$work/probe.cpio"
}

# Whether `accel` gets Debian's kernel to userspace within `limit` seconds.
probe() {
  local accel="$1" limit="$2"
  boot "$accel" "$work/probe.cpio" "$limit" >"$work/probe-$accel.log" 2>&1 || true
  grep -q MOAT-VM-PROBE-OK "$work/probe-$accel.log"
}

# KVM where it really works, else TCG. /dev/kvm existing proves nothing: under nested software
# virtualisation it is there, yet guest kernels never reach userspace (or QEMU aborts setting
# MSRs). So a short test boot decides, once per host boot, QEMU and kernel.
# Sets `accel`; exits with SKIP when neither boots.
choose_accel() {
  if [[ -n "${MOAT_VM_ACCEL:-}" ]]; then
    accel="$MOAT_VM_ACCEL"
    return
  fi
  local key decision qemu_version
  qemu_version=$("$qemu" --version 2>/dev/null | head -n 1) || true
  key="$(cat /proc/sys/kernel/random/boot_id)-$(basename "$kernel_dir")-$(echo "$qemu_version" |
    md5sum | cut -c1-8)"
  decision="$cache/accel-$key"
  exec 8>"$cache/.accel.lock"
  flock 8
  if [[ ! -s "$decision" ]]; then
    rm -f "$cache"/accel-*
    build_probe_initrd
    # A real KVM boots the probe in well under a second; TCG needs a few.
    if [[ -r /dev/kvm && -w /dev/kvm ]] && probe kvm 8; then
      accel=kvm
    elif probe tcg 60; then
      accel=tcg
    else
      log "the TCG probe boot printed:"
      tail -n 20 "$work/probe-tcg.log" >&2
      skip "QEMU cannot boot Debian's kernel here under kvm or tcg (see the log above)"
    fi
    echo "$accel" >"$decision"
  fi
  flock -u 8
  accel=$(cat "$decision")
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
  kernel_dir=$("$here/fetch-kernel.sh") || skip "no Debian kernel to boot (fetch-kernel.sh failed)"

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
