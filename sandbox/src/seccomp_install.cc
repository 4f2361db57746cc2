// Installing a compiled filter needs no libseccomp: moat-init links this alone, statically.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstddef>

#include "moat/sandbox/seccomp_policy.h"

namespace moat::sandbox {

int InstallSeccompProgram(const uint8_t* bpf, size_t size) {
  if (bpf == nullptr || size == 0 || size % sizeof(sock_filter) != 0 ||
      size / sizeof(sock_filter) > USHRT_MAX) {
    return -EINVAL;
  }
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(size / sizeof(sock_filter));
  // The kernel copies the program in; it never writes through this pointer.
  prog.filter = const_cast<sock_filter*>(reinterpret_cast<const sock_filter*>(bpf));
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return -errno;
  return 0;
}

int InstallApplicationFilter() {
  // Other ABIs are the profile's business (it kills them); this filter only adds one refusal.
  static const sock_filter kProgram[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  return InstallSeccompProgram(reinterpret_cast<const uint8_t*>(kProgram), sizeof(kProgram));
}

}  // namespace moat::sandbox
