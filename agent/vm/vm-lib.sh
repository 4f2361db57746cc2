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

# x86's vmlinux puts .init.scratch (PROGBITS) after .bss in the last PT_LOAD segment, so the
# file carries .bss and the scratch area as about 21 MiB of zeros, and QEMU's ELF loader maps and
# reads all of them: resident in every VM's QEMU. Ending that segment's file part where .bss
# begins makes QEMU zero-fill the rest instead (ELF: p_memsz beyond p_filesz is zero), which is
# the same memory for the guest. Left as it is when the layout is not the expected one.
# Used for Debian's kernel (fetch-kernel.sh) and the project's own (build-kernel.sh).
moat_vm_trim_bss() {
  local elf="$1" bss_off phoff phentsize phnum i base type offset filesz memsz
  bss_off=$(readelf -SW "$elf" 2>/dev/null | sed -n 's/^ *\[ *[0-9]*\] \.bss  *NOBITS  *[0-9a-f]*  *\([0-9a-f]*\) .*/\1/p')
  [[ -n "$bss_off" ]] || return 0
  bss_off=$((16#$bss_off))
  phoff=$(od -An -tu8 -j 32 -N8 "$elf" | tr -d ' ')
  phentsize=$(od -An -tu2 -j 54 -N2 "$elf" | tr -d ' ')
  phnum=$(od -An -tu2 -j 56 -N2 "$elf" | tr -d ' ')
  for ((i = 0; i < phnum; i++)); do
    base=$((phoff + i * phentsize))
    type=$(od -An -tu4 -j "$base" -N4 "$elf" | tr -d ' ')
    offset=$(od -An -tu8 -j $((base + 8)) -N8 "$elf" | tr -d ' ')
    filesz=$(od -An -tu8 -j $((base + 32)) -N8 "$elf" | tr -d ' ')
    memsz=$(od -An -tu8 -j $((base + 40)) -N8 "$elf" | tr -d ' ')
    ((type == 1 && offset < bss_off && bss_off < offset + filesz && filesz == memsz)) || continue
    local new=$((bss_off - offset)) bytes="" b
    # Only zeros may be dropped from the file part.
    cmp -s -n $((filesz - new)) <(tail -c +$((offset + new + 1)) "$elf") /dev/zero || return 0
    # p_filesz, little-endian, in place.
    for ((b = 0; b < 8; b++)); do bytes+=$(printf '\\x%02x' $(((new >> (8 * b)) & 255))); done
    printf '%b' "$bytes" | dd of="$elf" bs=1 seek=$((base + 32)) conv=notrunc status=none
    echo "moat-vm: vmlinux: $(((filesz - new) >> 20)) MiB of .bss and scratch zero-filled by QEMU, not read" >&2
    return 0
  done
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
      # Decisions of earlier host boots go; other kernels' of this boot stay (the project's
      # kernel and Debian's, for tests/vm, are both in use: each would re-probe otherwise).
      find "$cache" -maxdepth 1 -name 'accel-*' ! -name "accel-$(cat /proc/sys/kernel/random/boot_id)-*" \
        -delete
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
