// Installing a compiled filter needs no libseccomp: moat-init links this alone, statically.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

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

}  // namespace moat::sandbox
