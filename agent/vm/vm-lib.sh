# shellcheck shell=bash
# What every QEMU guest of the project needs, sourced by tests/vm/run-in-vm.sh (the cgroup v2
# test guest) and agent/vm/build-guest.sh (VM sessions): the cache directory, the host's TSC
# rate for the guest's kernel command line, and the accelerator chosen by a probe boot.
#
# Callers set `qemu` (the binary) before calling moat_vm_choose_accel.

# root shares one cache; anyone else keeps their own.
moat_vm_cache_dir() {
  local default_cache=/var/cache/moat-vm
  ((EUID == 0)) || default_cache="${XDG_CACHE_HOME:-$HOME/.cache}/moat-vm"
  echo "${MOAT_VM_CACHE:-$default_cache}"
}

# The host's TSC rate in kHz. Without tsc_early_khz a TCG guest can spend seconds (or hang)
# calibrating its TSC against a timer that runs at emulation speed.
moat_vm_host_tsc_khz() {
  local mhz
  local pattern='s/.*tsc: \(Refined TSC clocksource calibration\|Detected\): \([0-9.]*\) MHz.*/\2/p'
  mhz=$(dmesg 2>/dev/null | sed -n "$pattern" | tail -n 1)
  [[ -n "$mhz" ]] ||
    mhz=$(sed -n 's/^cpu MHz[[:space:]]*: \([0-9.]*\)/\1/p' /proc/cpuinfo | head -n 1)
  [[ -n "$mhz" ]] || return 0
  awk -v mhz="$mhz" 'BEGIN { printf "%d\n", mhz * 1000 }'
}

# The kernel file to boot: the unpacked ELF kernel boots through PVH, skipping the
# decompressor (fetch-kernel.sh); the bzImage otherwise.
moat_vm_kernel_file() {
  local kernel_dir="$1"
  if [[ -f "$kernel_dir/vmlinux" ]]; then echo "$kernel_dir/vmlinux"; else echo "$kernel_dir/vmlinuz"; fi
}

# A guest that only reaches its /init and powers off: busybox and a four-line script.
moat_vm_build_probe_initrd() {
  local work="$1" stage="$1/probe"
  mkdir -p "$stage/bin" "$stage/dev"
  cp "$(command -v busybox)" "$stage/bin/busybox"
  mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
  printf '%s\n' '#!/bin/busybox sh' \
    '/bin/busybox echo MOAT-VM-PROBE-OK' \
    '/bin/busybox poweroff -f' >"$stage/init"
  chmod 0755 "$stage/init"
  (cd "$stage" && find . -mindepth 1 | cpio --quiet -o -H newc -R 0:0) >"$work/probe.cpio"
}

# Whether `accel` gets the kernel to userspace within `limit` seconds.
moat_vm_probe() {
  local accel="$1" limit="$2" kernel_dir="$3" work="$4" cpu=max tsc
  [[ "$accel" == kvm ]] && cpu=host
  tsc=$(moat_vm_host_tsc_khz)
  timeout -k 5 "$limit" "$qemu" -M microvm -accel "$accel" -cpu "$cpu" -m 256 -smp 1 \
    -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
    -kernel "$(moat_vm_kernel_file "$kernel_dir")" -initrd "$work/probe.cpio" \
    -append "console=ttyS0 ${tsc:+tsc_early_khz=$tsc} quiet panic=-1" \
    </dev/null >"$work/probe-$accel.log" 2>&1 || true
  grep -q MOAT-VM-PROBE-OK "$work/probe-$accel.log"
}

# KVM where it really works, else TCG; prints it. /dev/kvm existing proves nothing: under
# nested software virtualisation it is there, yet guest kernels never reach userspace (or QEMU
# aborts setting MSRs). So a short test boot decides, once per host boot, QEMU and kernel.
# MOAT_VM_ACCEL=kvm|tcg skips the probe. Fails (status 1, the probe's log on stderr) when
# neither boots.
moat_vm_choose_accel() {
  local kernel_dir="$1" work="$2"
  if [[ -n "${MOAT_VM_ACCEL:-}" ]]; then
    echo "$MOAT_VM_ACCEL"
    return
  fi
  local cache key decision qemu_version accel
  cache=$(moat_vm_cache_dir)
  mkdir -p "$cache"
  qemu_version=$("$qemu" --version 2>/dev/null | head -n 1) || true
  key="$(cat /proc/sys/kernel/random/boot_id)-$(basename "$kernel_dir")-$(echo "$qemu_version" |
    md5sum | cut -c1-8)"
  decision="$cache/accel-$key"
  (
    flock 8
    if [[ ! -s "$decision" ]]; then
      rm -f "$cache"/accel-*
      moat_vm_build_probe_initrd "$work"
      # A real KVM boots the probe in well under a second; TCG needs a few.
      if [[ -r /dev/kvm && -w /dev/kvm ]] && moat_vm_probe kvm 8 "$kernel_dir" "$work"; then
        accel=kvm
      elif moat_vm_probe tcg 60 "$kernel_dir" "$work"; then
        accel=tcg
      else
        echo "moat-vm: the TCG probe boot printed:" >&2
        tail -n 20 "$work/probe-tcg.log" >&2
        exit 1
      fi
      echo "$accel" >"$decision"
    fi
  ) 8>"$cache/.accel.lock" || return 1
  cat "$decision"
}
