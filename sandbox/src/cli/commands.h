// The moat-sandbox subcommands. Each returns the process exit status.
#pragma once

#include <string>
#include <vector>

#include "moat/common/error.h"
#include "moat/sandbox/session_manager.h"

namespace moat::sandbox::cli {

inline constexpr int kExitOwnFailure = 125;

struct GlobalOptions {
  std::string run_dir = "/run/moat";
  // Moat's parent cgroup, relative to the cgroup root; "delegated": inside the caller's own
  // cgroup v2 subtree (DelegatedCgroupOptions).
  std::string cgroup_parent = "moat";
};

int CommandRun(const GlobalOptions& global, const std::vector<std::string>& args);
int CommandList(const GlobalOptions& global, const std::vector<std::string>& args);
int CommandExec(const GlobalOptions& global, const std::vector<std::string>& args);
int CommandStop(const GlobalOptions& global, const std::vector<std::string>& args);
int CommandSet(const GlobalOptions& global, const std::vector<std::string>& args);
int CommandStats(const GlobalOptions& global, const std::vector<std::string>& args);
int CommandFreeze(const GlobalOptions& global, const std::vector<std::string>& args);
int CommandThaw(const GlobalOptions& global, const std::vector<std::string>& args);

// Prints "moat-sandbox: <message>" and returns 125.
int Report(const Error& error);
Result<std::unique_ptr<SessionManager>> OpenManager(const GlobalOptions& global);

}  // namespace moat::sandbox::cli
