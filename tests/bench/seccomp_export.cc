// moat-seccomp-export: writes Moat's session seccomp profile for the peer benchmark
// (tests/bench/peers.sh), so that bubblewrap and crun run under the same policy as a wall.
//
//   moat-seccomp-export [--profile NAME] OUTPUT             raw BPF for bwrap --seccomp FD
//   moat-seccomp-export [--profile NAME] --oci-json OUTPUT  OCI linux.seccomp section (crun)
//
// The raw form is the compiled program itself (an array of `struct sock_filter`). The OCI form
// is the same policy as data: the allowed sets as one SCMP_ACT_ALLOW rule, each argument
// restriction as the rules Moat's compiler emits, default SCMP_ACT_ERRNO with the profile's
// errno. It reads the policy tables from sandbox/src (a benchmark tool, not a library user).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "moat/common/unique_fd.h"
#include "moat/sandbox/seccomp_policy.h"
#include "seccomp_policy.h"

namespace {

namespace policy = moat::sandbox::seccomp;
using nlohmann::json;

int Usage() {
  std::fprintf(stderr, "usage: moat-seccomp-export [--profile NAME] [--oci-json] OUTPUT\n");
  return 2;
}

json Rule(std::string_view name, const char* action, json args = json::array()) {
  json rule = {{"names", {std::string(name)}}, {"action", action}};
  if (!args.empty()) rule["args"] = std::move(args);
  return rule;
}

json ArgCompare(unsigned index, uint64_t value, uint64_t value_two, const char* op) {
  return {{"index", index}, {"value", value}, {"valueTwo", value_two}, {"op", op}};
}

// One OCI rule per libseccomp rule of seccomp_compile.cc: rules on one syscall are OR-ed.
void AddRestriction(const policy::ArgRestriction& r, json& rules) {
  switch (r.kind) {
    case policy::RestrictionKind::kAllowIfMaskedZero:
      rules.push_back(
          Rule(r.syscall, "SCMP_ACT_ALLOW", {ArgCompare(r.arg, r.mask, 0, "SCMP_CMP_MASKED_EQ")}));
      return;
    case policy::RestrictionKind::kAllowIfLow32In:
      for (uint64_t value : r.values) {
        rules.push_back(Rule(r.syscall, "SCMP_ACT_ALLOW",
                             {ArgCompare(r.arg, 0xffffffffu, value, "SCMP_CMP_MASKED_EQ")}));
      }
      return;
    case policy::RestrictionKind::kAllowUnlessLow32In:
      for (const auto& masked : policy::Low32Complement(r.values)) {
        rules.push_back(Rule(r.syscall, "SCMP_ACT_ALLOW",
                             {ArgCompare(r.arg, masked.mask, masked.value, "SCMP_CMP_MASKED_EQ")}));
      }
      return;
    case policy::RestrictionKind::kFailWithErrno: {
      json rule = Rule(r.syscall, "SCMP_ACT_ERRNO");
      rule["errnoRet"] = r.errno_value;
      rules.push_back(std::move(rule));
      return;
    }
  }
}

bool OciSeccompJson(const std::string& profile, std::string& out) {
  const policy::Policy* p = policy::FindPolicy(profile);
  if (p == nullptr) return false;
  json allowed = json::array();
  for (const auto& set : p->allowed) {
    for (std::string_view name : set.syscalls) {
      if (policy::ResolveSyscall(name) >= 0) allowed.push_back(std::string(name));
    }
  }
  json rules = json::array({{{"names", allowed}, {"action", "SCMP_ACT_ALLOW"}}});
  for (const auto& restriction : p->restrictions) AddRestriction(restriction, rules);
  json section = {{"defaultAction", "SCMP_ACT_ERRNO"},
                  {"defaultErrnoRet", p->default_errno},
                  {"architectures", {"SCMP_ARCH_X86_64"}},
                  {"syscalls", rules}};
  out = section.dump(2) + "\n";
  return true;
}

bool RawBpf(const std::string& profile, std::string& out) {
  auto program = moat::sandbox::CompileSeccompProfile(profile);
  if (!program) {
    std::fprintf(stderr, "moat-seccomp-export: compile profile '%s': %s\n", profile.c_str(),
                 program.error().message().c_str());
    return false;
  }
  out.assign(program->bpf.begin(), program->bpf.end());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string profile = "default";
  std::string output;
  bool oci_json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
      profile = argv[++i];
    } else if (std::strcmp(argv[i], "--oci-json") == 0) {
      oci_json = true;
    } else if (argv[i][0] == '-' || !output.empty()) {
      return Usage();
    } else {
      output = argv[i];
    }
  }
  if (output.empty()) return Usage();

  std::string bytes;
  if (oci_json ? !OciSeccompJson(profile, bytes) : !RawBpf(profile, bytes)) {
    if (oci_json) std::fprintf(stderr, "moat-seccomp-export: no profile '%s'\n", profile.c_str());
    return 1;
  }
  moat::UniqueFd fd(::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd || ::write(fd.get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    std::fprintf(stderr, "moat-seccomp-export: write '%s': %s\n", output.c_str(),
                 std::strerror(errno));
    return 1;
  }
  return 0;
}
