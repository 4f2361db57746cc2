// Compiles a seccomp::Policy to a classic BPF program with libseccomp, and installs one.
//
// Architecture: the filter admits the native x86-64 ABI only. A syscall entered through the
// i386 ABI (int 0x80) or with the x32 bit set does not match the filter's arch and KILLS THE
// PROCESS (SCMP_ACT_KILL_PROCESS), rather than returning an errno: the tables name x86-64
// calls, the numbers differ per ABI, and a 64-bit desktop process that enters the kernel
// through a 32-bit door is an exploit far more often than a program. A loud SIGSYS also beats
// a 32-bit program that half-works on ENOSYS.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

#include "moat/common/error.h"
#include "moat/common/unique_fd.h"
#include "moat/sandbox/seccomp_policy.h"
#include "seccomp_policy.h"

namespace moat::sandbox {
namespace seccomp {

int ResolveSyscall(std::string_view name) {
  const int nr = seccomp_syscall_resolve_name(std::string(name).c_str());
  // Negative values other than __NR_SCMP_ERROR are libseccomp pseudo-numbers for calls that
  // exist only on other arches (vm86, socketcall, ...).
  return nr < 0 ? -1 : nr;
}

namespace {

void WalkLow32Trie(std::span<const uint64_t> excluded, uint32_t mask, uint32_t value, int bit,
                   std::vector<MaskedValue>& out) {
  const bool prefix_has_excluded = std::any_of(excluded.begin(), excluded.end(), [&](uint64_t x) {
    return (static_cast<uint32_t>(x) & mask) == value;
  });
  if (!prefix_has_excluded) {
    out.push_back({mask, value});
    return;
  }
  if (bit < 0) return;  // all 32 bits fixed and equal to an excluded value
  const uint32_t b = 1u << bit;
  WalkLow32Trie(excluded, mask | b, value, bit - 1, out);
  WalkLow32Trie(excluded, mask | b, value | b, bit - 1, out);
}

}  // namespace

std::vector<MaskedValue> Low32Complement(std::span<const uint64_t> excluded) {
  std::vector<MaskedValue> out;
  WalkLow32Trie(excluded, 0, 0, 31, out);
  return out;
}

}  // namespace seccomp

namespace {

using seccomp::ArgRestriction;
using seccomp::Policy;
using seccomp::RestrictionKind;

constexpr uint64_t kLow32 = 0xffffffff;

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;  // scmp_filter_ctx is void*

Status SetAttribute(scmp_filter_ctx ctx, scmp_filter_attr attr, uint32_t value,
                    std::string_view attr_name) {
  if (const int rc = seccomp_attr_set(ctx, attr, value); rc < 0) {
    return FailErrno("seccomp_attr_set", attr_name, -rc);
  }
  return {};
}

Result<Filter> NewFilter(const Policy& policy) {
  if (seccomp_arch_native() != SCMP_ARCH_X86_64) {
    return Fail(InvalidArgument("seccomp profile '" + std::string(policy.name) +
                                "' has syscall tables for x86-64 only"));
  }
  Filter filter(seccomp_init(SCMP_ACT_ERRNO(policy.default_errno)));
  if (!filter) {
    return Fail(Error(std::make_error_code(std::errc::not_enough_memory),
                      "seccomp_init: cannot create a filter context"));
  }
  MOAT_TRY_VOID(SetAttribute(filter.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS,
                             "SCMP_FLTATR_ACT_BADARCH"));
  // The caller sets no_new_privs itself, right before installing; exporting ignores it anyway.
  MOAT_TRY_VOID(SetAttribute(filter.get(), SCMP_FLTATR_CTL_NNP, 0, "SCMP_FLTATR_CTL_NNP"));
  // A binary tree over syscall numbers: O(log n) instead of a linear scan of ~300 calls.
  MOAT_TRY_VOID(
      SetAttribute(filter.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2, "SCMP_FLTATR_CTL_OPTIMIZE"));
  return filter;
}

Status AddRule(scmp_filter_ctx ctx, uint32_t action, int nr, std::string_view syscall,
               const scmp_arg_cmp* cmp = nullptr) {
  const unsigned cmp_count = cmp == nullptr ? 0 : 1;
  const int rc = seccomp_rule_add_exact_array(ctx, action, nr, cmp_count, cmp);
  if (rc == -EACCES) {
    Error error = ErrnoError("seccomp_rule_add", syscall, EACCES);
    return Fail(
        Error(error.code(), error.message() + " (a rule may not repeat the default action)"));
  }
  if (rc < 0) return FailErrno("seccomp_rule_add", syscall, -rc);
  return {};
}

Status AddAllowedSets(scmp_filter_ctx ctx, const Policy& policy) {
  for (const seccomp::SyscallSet& set : policy.allowed) {
    for (std::string_view name : set.syscalls) {
      const int nr = seccomp::ResolveSyscall(name);
      if (nr < 0) continue;  // newer than this libseccomp, or not on x86-64: stays denied
      MOAT_TRY_VOID_CTX(AddRule(ctx, SCMP_ACT_ALLOW, nr, name),
                        "allowed set '" + std::string(set.name) + "'");
    }
  }
  return {};
}

Status AllowMasked(scmp_filter_ctx ctx, int nr, const ArgRestriction& r, uint64_t mask,
                   uint64_t value) {
  const scmp_arg_cmp cmp{r.arg, SCMP_CMP_MASKED_EQ, mask, value};
  return AddRule(ctx, SCMP_ACT_ALLOW, nr, r.syscall, &cmp);
}

Status AddRestrictionRules(scmp_filter_ctx ctx, int nr, const ArgRestriction& r) {
  switch (r.kind) {
    case RestrictionKind::kAllowIfMaskedZero:
      return AllowMasked(ctx, nr, r, r.mask, 0);
    case RestrictionKind::kAllowIfLow32In:
      for (uint64_t value : r.values) {
        MOAT_TRY_VOID(AllowMasked(ctx, nr, r, kLow32, value & kLow32));
      }
      return {};
    case RestrictionKind::kAllowUnlessLow32In:
      for (const seccomp::MaskedValue& mv : seccomp::Low32Complement(r.values)) {
        MOAT_TRY_VOID(AllowMasked(ctx, nr, r, mv.mask, mv.value));
      }
      return {};
    case RestrictionKind::kFailWithErrno:
      return AddRule(ctx, SCMP_ACT_ERRNO(static_cast<uint32_t>(r.errno_value)), nr, r.syscall);
  }
  return Fail(InvalidArgument("unknown restriction kind"));
}

Status AddRestrictions(scmp_filter_ctx ctx, const Policy& policy, SeccompAudience audience) {
  for (const ArgRestriction& r : policy.restrictions) {
    const std::string context = "restriction '" + std::string(r.name) + "'";
    const int nr = seccomp::ResolveSyscall(r.syscall);
    if (nr < 0) {
      // Unlike a skipped allow, a skipped restriction changes behaviour (clone3 must give
      // ENOSYS, not EPERM, or glibc never falls back to clone), so refuse to build.
      return Fail(InvalidArgument(context + ": libseccomp does not know syscall '" +
                                  std::string(r.syscall) + "'; try a newer libseccomp"));
    }
    if (r.supervisor_exempt && audience == SeccompAudience::kSupervisor) {
      MOAT_TRY_VOID_CTX(AddRule(ctx, SCMP_ACT_ALLOW, nr, r.syscall), context);
      continue;
    }
    MOAT_TRY_VOID_CTX(AddRestrictionRules(ctx, nr, r), context);
  }
  return {};
}

Result<SeccompProgram> ExportBpf(scmp_filter_ctx ctx) {
  UniqueFd fd(memfd_create("moat-seccomp-bpf", MFD_CLOEXEC));
  if (!fd) return FailErrno("memfd_create", "moat-seccomp-bpf");
  if (const int rc = seccomp_export_bpf(ctx, fd.get()); rc < 0) {
    return FailErrno("seccomp_export_bpf", "", -rc);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return FailErrno("fstat", "moat-seccomp-bpf");
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % sizeof(sock_filter) != 0) {
    return Fail(InvalidArgument("seccomp_export_bpf wrote " + std::to_string(size) +
                                " bytes, not a whole number of BPF instructions"));
  }
  SeccompProgram program;
  program.bpf.resize(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n =
        pread(fd.get(), program.bpf.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("pread", "moat-seccomp-bpf");
    if (n == 0) return FailErrno("pread", "moat-seccomp-bpf", EIO);  // memfd shrank under us
    done += static_cast<size_t>(n);
  }
  return program;
}

}  // namespace

Result<SeccompProgram> CompileSeccompProfile(const std::string& profile, SeccompAudience audience) {
  const Policy* policy = seccomp::FindPolicy(profile);
  if (policy == nullptr) {
    std::string known;
    for (std::string_view name : seccomp::PolicyNames()) {
      known += known.empty() ? "'" : ", '";
      known += name;
      known += "'";
    }
    return Fail(InvalidArgument("unknown seccomp profile '" + profile + "'; known: " + known));
  }
  const std::string context = "compile seccomp profile '" + profile + "'";
  MOAT_TRY_CTX(Filter filter, NewFilter(*policy), context);
  MOAT_TRY_VOID_CTX(AddAllowedSets(filter.get(), *policy), context);
  MOAT_TRY_VOID_CTX(AddRestrictions(filter.get(), *policy, audience), context);
  MOAT_TRY_CTX(SeccompProgram program, ExportBpf(filter.get()), context);
  return program;
}

Result<const SeccompProgram*> CachedSeccompProfile(const std::string& profile,
                                                   SeccompAudience audience) {
  // Leaked on purpose: pointers handed out stay valid until exit, whatever destructs first.
  static std::mutex& mutex = *new std::mutex;
  using Key = std::pair<std::string, SeccompAudience>;
  static auto& cache = *new std::map<Key, std::unique_ptr<const SeccompProgram>>;
  std::lock_guard lock(mutex);
  Key key{profile, audience};
  if (auto it = cache.find(key); it != cache.end()) return it->second.get();
  // Failures are not cached.
  MOAT_TRY(SeccompProgram program, CompileSeccompProfile(profile, audience));
  auto inserted =
      cache.emplace(key, std::make_unique<const SeccompProgram>(std::move(program))).first;
  return inserted->second.get();
}

}  // namespace moat::sandbox
