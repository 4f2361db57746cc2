#include "clone_into_cgroup.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace moat::sandbox {

#if defined(__x86_64__)
// glibc 2.36 has no clone3 wrapper that runs a function on a new stack, and its syscall()
// cannot be used for that: the child would return through a frame on a stack it does not
// have. So the child's side is written out: fn and arg live in r8 and r9, which the syscall
// preserves; the child calls fn on the stack the kernel gave it and exits with its result.
extern "C" long moat_clone3_on_stack(struct clone_args* args, size_t size, int (*fn)(void*),
                                     void* arg);
asm(R"(
    .pushsection .text,"ax",@progbits
    .p2align 4
    .globl moat_clone3_on_stack
    .hidden moat_clone3_on_stack
    .type moat_clone3_on_stack, @function
moat_clone3_on_stack:
    .cfi_startproc
    mov %rdx, %r8
    mov %rcx, %r9
    mov $435, %eax
    syscall
    test %rax, %rax
    jz 1f
    ret
1:  .cfi_undefined rip
    xor %ebp, %ebp
    and $-16, %rsp
    mov %r9, %rdi
    call *%r8
    mov %eax, %edi
    mov $60, %eax
    syscall
    ud2
    .cfi_endproc
    .size moat_clone3_on_stack, .-moat_clone3_on_stack
    .popsection
)");
static_assert(SYS_clone3 == 435 && SYS_exit == 60, "x86-64 system call numbers");
#endif

namespace {

struct clone_args ArgsFor(uint64_t flags, int cgroup_fd) {
  struct clone_args args;
  std::memset(&args, 0, sizeof(args));
  args.flags = flags;
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  return args;
}

}  // namespace

AllSignalsBlocked::AllSignalsBlocked() {
  uint64_t all = ~uint64_t{0};
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &before_, sizeof(all));
}

AllSignalsBlocked::~AllSignalsBlocked() {
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &before_, nullptr, sizeof(before_));
}

CloneResult ForkIntoCgroup(int cgroup_fd) {
  struct clone_args args = ArgsFor(0, cgroup_fd);
  // No stack given: the child goes on on a copy of ours, as after fork().
  long rc = ::syscall(SYS_clone3, &args, sizeof(args));
  if (rc < 0) return {-1, errno};
  return {static_cast<pid_t>(rc), 0};
}

CloneResult CloneOnStack(uint64_t flags, int cgroup_fd, char* stack, size_t stack_size,
                         int (*fn)(void*), void* arg, int* pidfd) {
#if defined(__x86_64__)
  struct clone_args args = ArgsFor(flags, cgroup_fd);
  args.pidfd = reinterpret_cast<uint64_t>(pidfd);
  args.stack = reinterpret_cast<uint64_t>(stack);
  args.stack_size = stack_size;
  long rc = moat_clone3_on_stack(&args, sizeof(args), fn, arg);
  if (rc < 0) return {-1, static_cast<int>(-rc)};
  return {static_cast<pid_t>(rc), 0};
#else
  (void)flags, (void)cgroup_fd, (void)stack, (void)stack_size, (void)fn, (void)arg, (void)pidfd;
  return {-1, ENOSYS};
#endif
}

}  // namespace moat::sandbox
