// The session seccomp policy as data: named syscall sets and named argument restrictions.
// seccomp_policy.cc holds the tables; seccomp_compile.cc turns a Policy into a BPF program.
// Nothing else in Moat touches libseccomp.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace moat::sandbox::seccomp {

// A named group of syscalls, by x86-64 name. Names that libseccomp cannot resolve on this
// arch (too new for the installed libseccomp, or absent on x86-64) are skipped.
struct SyscallSet {
  std::string_view name;
  std::span<const std::string_view> syscalls;
};

// How an ArgRestriction treats the calls it matches. Everything it does not allow falls
// through to the profile's default action.
enum class RestrictionKind {
  kAllowIfMaskedZero,   // allow when (arg & mask) == 0
  kAllowIfLow32In,      // allow when the low 32 bits of arg are one of values
  kAllowUnlessLow32In,  // allow when the low 32 bits of arg are none of values
  kFailWithErrno,       // always fail with errno_value (arg, mask, values unused)
};

// One named argument restriction on one syscall, with the reason it exists.
//
// Low32 kinds compare only the low 32 bits because the kernel truncates `unsigned int` / `int`
// arguments (ioctl cmd, socket family, personality): a plain 64-bit `!=` on TIOCSTI is
// bypassed by setting any high bit (flatpak CVE-2019-10063).
struct ArgRestriction {
  std::string_view name;
  std::string_view syscall;
  RestrictionKind kind;
  unsigned arg = 0;
  uint64_t mask = 0;
  std::span<const uint64_t> values = {};
  int errno_value = 0;
  std::string_view reason;
  // Left out of moat-init's own program (SeccompAudience::kSupervisor), which lets the call
  // through; every application adds it back before exec (InstallApplicationFilter). Only
  // kFailWithErrno on clone3 may be so: that filter knows nothing else.
  bool supervisor_exempt = false;
};

struct Policy {
  std::string_view name;
  int default_errno;  // SCMP_ACT_ERRNO(default_errno) for every syscall not allowed below
  std::span<const SyscallSet> allowed;
  std::span<const ArgRestriction> restrictions;
  // Never allowed: listed so the policy states what it denies and tests can check each one.
  // The default action already denies them; the compiler adds no rule for these.
  std::span<const SyscallSet> denied;
};

// The profile called `name` ("default"), or nullptr.
const Policy* FindPolicy(std::string_view name);

// The names FindPolicy knows, for error messages.
std::span<const std::string_view> PolicyNames();

// The syscall number of `name` on the native arch, or -1 when it has none there.
int ResolveSyscall(std::string_view name);

// (mask, value) pairs, one libseccomp SCMP_CMP_MASKED_EQ rule each, whose union is exactly
// the 64-bit values whose low 32 bits are none of `excluded`. libseccomp allows one
// comparison per argument in a rule and no rule with the default action, so "allow unless
// low32(arg) in {..}" is built as a union of prefix matches (a binary trie walk).
struct MaskedValue {
  uint64_t mask;
  uint64_t value;
};
std::vector<MaskedValue> Low32Complement(std::span<const uint64_t> excluded);

}  // namespace moat::sandbox::seccomp
