// moat-bench-wall: the cost of a session wall through libmoat-sandbox (issue 3).
//
//   BM_WallCreateRunTeardown/gap_ms:G  Create → run /bin/true over the control socket → Stop,
//                                      with G ms of untimed idle between walls (G = 100 shows
//                                      what a wall costs when the kernel's RCU-synchronised
//                                      state has gone cold, as for an occasional login)
//   BM_WallCreateTeardownNoCommand     Create → Stop
//   BM_SeccompCompile                  compiling the session filter (the CLI does it per run,
//                                      the agent once)
//   BM_IdleWallMemory                  kernel + user memory of N idle walls, per wall
//
// Needs root (namespaces, mounts, cgroups) and the user 'moat-bench', created with
// `useradd -m` when missing. Walls live in a private run directory under /run and a private
// cgroup parent 'moat-bench', both removed at exit. Timings are reported, never asserted.
//
// Extra flag: --bench_idle_walls=N (default 20) walls for BM_IdleWallMemory.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "moat/common/unique_fd.h"
#include "moat/sandbox/control_client.h"
#include "moat/sandbox/seccomp_policy.h"
#include "moat/sandbox/session_manager.h"
#include "own_flags.h"

extern char** environ;

namespace {

using moat::UniqueFd;
using moat::sandbox::ControlClient;
using moat::sandbox::LaunchRequest;
using moat::sandbox::ManagerOptions;
using moat::sandbox::SessionInfo;
using moat::sandbox::SessionManager;
using moat::sandbox::SessionSpec;
using Clock = std::chrono::steady_clock;

constexpr const char* kBenchUser = "moat-bench";
constexpr const char* kCgroupParent = "moat-bench";
constexpr auto kGrace = std::chrono::seconds(2);

SessionManager* g_manager = nullptr;
int g_idle_walls = 20;
unsigned g_next_id = 0;
bool g_failed = false;  // any benchmark skipped with an error: the smoke test must fail

std::string NextSessionId() {
  return "bench-" + std::to_string(::getpid()) + "-" + std::to_string(g_next_id++);
}

// The whole wall, limits included: the same memory, pids and cpu limits that peers.sh gives crun.
SessionSpec BenchSpec() {
  SessionSpec spec;
  spec.id = NextSessionId();
  spec.user = kBenchUser;
  spec.limits.memory_max = 512ull << 20;
  spec.limits.pids_max = 1024;
  spec.limits.cpu_percent = 100;
  return spec;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Runs /bin/true as the session's first application and waits for it, like
// `moat-sandbox run` does (minus the second "signaller" connection it opens).
moat::Status RunTrue(const SessionInfo& session, int dev_null) {
  MOAT_TRY(auto client, ControlClient::Connect(session.control_socket));
  LaunchRequest request;
  request.argv = {"/bin/true"};
  MOAT_TRY_VOID(client.Launch(request, dev_null, dev_null, dev_null));
  MOAT_TRY(auto status, client.WaitExit());
  if (status.ShellCode() != 0) {
    return moat::Fail(
        moat::InvalidArgument("/bin/true exited with " + std::to_string(status.ShellCode())));
  }
  return {};
}

void Skip(benchmark::State& state, const std::string& what, const moat::Error& error) {
  std::string message = what + ": " + error.message();
  g_failed = true;
  state.SkipWithError(message.c_str());
}

// Per-phase averages ride along as counters so that the report shows where the time goes.
void WallCycle(benchmark::State& state, bool run_command, int gap_ms) {
  UniqueFd dev_null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  double create_ms = 0, run_ms = 0, stop_ms = 0;
  for (auto _ : state) {
    if (gap_ms > 0) {
      state.PauseTiming();
      std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
      state.ResumeTiming();
    }
    auto t0 = Clock::now();
    auto session = g_manager->Create(BenchSpec());
    if (!session) {
      Skip(state, "create", session.error());
      break;
    }
    auto t1 = Clock::now();
    if (run_command) {
      auto ran = RunTrue(*session, dev_null.get());
      if (!ran) {
        (void)g_manager->Stop(session->id, kGrace);
        Skip(state, "run /bin/true", ran.error());
        break;
      }
    }
    auto t2 = Clock::now();
    auto stopped = g_manager->Stop(session->id, kGrace);
    if (!stopped) {
      Skip(state, "stop", stopped.error());
      break;
    }
    auto t3 = Clock::now();
    create_ms += Ms(t1 - t0);
    run_ms += Ms(t2 - t1);
    stop_ms += Ms(t3 - t2);
  }
  using benchmark::Counter;
  state.counters["create_ms"] = Counter(create_ms, Counter::kAvgIterations);
  if (run_command) state.counters["run_ms"] = Counter(run_ms, Counter::kAvgIterations);
  state.counters["stop_ms"] = Counter(stop_ms, Counter::kAvgIterations);
}

void BM_WallCreateRunTeardown(benchmark::State& state) {
  WallCycle(state, true, static_cast<int>(state.range(0)));
}
void BM_WallCreateTeardownNoCommand(benchmark::State& state) { WallCycle(state, false, 0); }

void BM_SeccompCompile(benchmark::State& state) {
  for (auto _ : state) {
    auto program = moat::sandbox::CompileSeccompProfile("default");
    if (!program) {
      Skip(state, "compile", program.error());
      break;
    }
    benchmark::DoNotOptimize(program->bpf.data());
  }
}

// --- memory --------------------------------------------------------------------------------

// A field of /proc/meminfo in KiB, -1 when absent.
long MeminfoKib(const char* field) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  size_t len = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, len, field) == 0 && line.size() > len && line[len] == ':') {
      return std::strtol(line.c_str() + len + 1, nullptr, 10);
    }
  }
  return -1;
}

struct MemSnapshot {
  long available = 0, slab_unreclaimable = 0, slab_reclaimable = 0, page_tables = 0,
       kernel_stack = 0, percpu = 0;
};

MemSnapshot ReadMem() {
  MemSnapshot m;
  m.available = MeminfoKib("MemAvailable");
  m.percpu = MeminfoKib("Percpu");
  m.slab_unreclaimable = MeminfoKib("SUnreclaim");
  m.slab_reclaimable = MeminfoKib("SReclaimable");
  m.page_tables = MeminfoKib("PageTables");
  m.kernel_stack = MeminfoKib("KernelStack");
  return m;
}

// Lets RCU-freed objects (namespaces, mounts) and per-cpu caches settle before a reading.
MemSnapshot SettledMem() {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return ReadMem();
}

long ReadNumber(const std::string& path) {
  std::ifstream in(path);
  long long value = -1;
  if (!(in >> value)) return -1;
  return static_cast<long>(value);
}

bool IsV2() { return g_manager->cgroups().Version() == "v2"; }

// The memory controller's directory of `relative` ("" for the hierarchy's root).
std::string MemoryDir(const std::string& relative) {
  const auto& c = g_manager->options().cgroups;
  std::string root = IsV2() ? c.mount_root : c.mount_root + "/memory";
  return relative.empty() || relative == "/" ? root : root + "/" + relative;
}

std::string SessionMemoryDir(const std::string& group) {
  return MemoryDir(g_manager->options().cgroups.parent + "/" + group);
}

// What a memory cgroup (and its sub-groups) is charged, in bytes.
long GroupMemoryBytes(const std::string& dir) {
  return ReadNumber(dir + (IsV2() ? "/memory.current" : "/memory.usage_in_bytes"));
}

// The kernel part of that charge: slab, page tables, kernel stacks, sockets.
long GroupKernelBytes(const std::string& dir) {
  if (!IsV2()) return ReadNumber(dir + "/memory.kmem.usage_in_bytes");
  std::ifstream in(dir + "/memory.stat");
  std::string key;
  long long value = 0;
  while (in >> key >> value) {
    if (key == "kernel") return static_cast<long>(value);
  }
  return -1;
}

bool WriteText(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

// This process's memory cgroup, relative to the hierarchy's root, from /proc/self/cgroup.
std::string OwnMemoryGroup() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    // v1 lines list their controllers ("4:memory:/x", "3:cpu,cpuacct:/y"); v2 has "0::/z".
    std::string_view controllers(line.data() + first + 1, second - first - 1);
    bool match = false;
    if (IsV2()) {
      match = first == 1 && line[0] == '0' && controllers.empty();
    } else {
      for (size_t pos = 0; pos <= controllers.size();) {
        size_t comma = std::min(controllers.find(',', pos), controllers.size());
        match = match || controllers.substr(pos, comma - pos) == "memory";
        pos = comma + 1;
      }
    }
    if (match) return line.substr(second + 1);
  }
  return "/";
}

// While it creates walls the benchmark sits in a memory cgroup of its own, so that what
// clone() allocates on the creator's side (the namespaces, the copy of the host's mount table)
// is charged where it can be read. A session's own group sees only what moat-init allocates
// after it joined. Unlike MemAvailable, neither is disturbed by other work on the machine.
class CreatorGroup {
 public:
  CreatorGroup()
      : original_(OwnMemoryGroup()),
        dir_(MemoryDir(g_manager->options().cgroups.parent + "/bench-creator-" +
                       std::to_string(::getpid()))) {
    ::mkdir(MemoryDir(g_manager->options().cgroups.parent).c_str(), 0755);
    joined_ = (::mkdir(dir_.c_str(), 0755) == 0 || errno == EEXIST) &&
              WriteText(dir_ + "/cgroup.procs", std::to_string(::getpid()));
  }
  ~CreatorGroup() {
    if (joined_) WriteText(MemoryDir(original_) + "/cgroup.procs", std::to_string(::getpid()));
    ::rmdir(dir_.c_str());
  }
  CreatorGroup(const CreatorGroup&) = delete;
  CreatorGroup& operator=(const CreatorGroup&) = delete;

  bool joined() const { return joined_; }
  long Bytes() const { return GroupMemoryBytes(dir_); }
  long KernelBytes() const { return GroupKernelBytes(dir_); }

 private:
  std::string original_;
  std::string dir_;
  bool joined_ = false;
};

// "Pss:" (or another field) of /proc/PID/smaps_rollup, in KiB.
long SmapsRollupKib(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  size_t len = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, len, field) == 0 && line.size() > len && line[len] == ':') {
      return std::strtol(line.c_str() + len + 1, nullptr, 10);
    }
  }
  return -1;
}

void BM_IdleWallMemory(benchmark::State& state) {
  const int walls = static_cast<int>(state.range(0));
  for (auto _ : state) {
    // One wall first so that binaries, libraries and the compiled filter are already cached.
    auto warm = g_manager->Create(BenchSpec());
    if (!warm || !g_manager->Stop(warm->id, kGrace)) {
      g_failed = true;
      state.SkipWithError("warm-up wall failed");
      break;
    }
    CreatorGroup creator;
    if (!creator.joined()) {
      g_failed = true;
      state.SkipWithError("cannot join a memory cgroup of the benchmark's own");
      break;
    }
    MemSnapshot before = SettledMem();
    const long creator_before = creator.Bytes(), creator_kernel_before = creator.KernelBytes();
    std::vector<SessionInfo> sessions;
    bool failed = false;
    // Charged bytes of everything so far: read again halfway, so that the second half's share
    // is the cost of one more wall, without the one-time charges (the first wall to touch
    // moat-init's file pages pays for them).
    auto charged = [&] {
      long bytes = creator.Bytes() - creator_before;
      for (const auto& s : sessions) bytes += GroupMemoryBytes(SessionMemoryDir(s.cgroup));
      return bytes;
    };
    const int half = walls / 2;
    long charged_at_half = 0;
    for (int i = 0; i < walls && !failed; ++i) {
      if (i == half) {
        (void)SettledMem();
        charged_at_half = charged();
      }
      auto session = g_manager->Create(BenchSpec());
      if (!session) {
        Skip(state, "create", session.error());
        failed = true;
      } else {
        sessions.push_back(std::move(*session));
      }
    }
    MemSnapshot up = SettledMem();
    const long charged_at_end = charged();
    const long creator_bytes = creator.Bytes() - creator_before;
    const long creator_kernel = creator.KernelBytes() - creator_kernel_before;
    long session_bytes = 0, session_kernel = 0, pss_kib = 0, rss_kib = 0, private_kib = 0;
    for (const auto& s : sessions) {
      session_bytes += std::max(0L, GroupMemoryBytes(SessionMemoryDir(s.cgroup)));
      session_kernel += std::max(0L, GroupKernelBytes(SessionMemoryDir(s.cgroup)));
      pss_kib += std::max(0L, SmapsRollupKib(s.pid, "Pss"));
      rss_kib += std::max(0L, SmapsRollupKib(s.pid, "Rss"));
      private_kib += std::max(0L, SmapsRollupKib(s.pid, "Private_Dirty")) +
                     std::max(0L, SmapsRollupKib(s.pid, "Private_Clean"));
    }
    for (const auto& s : sessions) (void)g_manager->Stop(s.id, kGrace);
    MemSnapshot down = SettledMem();
    if (failed || sessions.empty()) break;

    const double n = static_cast<double>(sessions.size());
    auto per_wall = [n](long kib) { return static_cast<double>(kib) / n; };
    auto per_wall_bytes = [n](long bytes) { return static_cast<double>(bytes) / 1024.0 / n; };
    state.counters["walls"] = n;
    // Everything charged to memory cgroups for the walls, kernel and user, averaged; and
    // (above) the cost of one more wall once the one-time charges are paid.
    state.counters["wall_kib"] = per_wall_bytes(creator_bytes + session_bytes);
    state.counters["wall_kernel_kib"] = per_wall_bytes(creator_kernel + session_kernel);
    state.counters["wall_user_kib"] =
        per_wall_bytes(creator_bytes + session_bytes - creator_kernel - session_kernel);
    if (walls - half > 0 && static_cast<int>(sessions.size()) == walls) {
      state.counters["marginal_wall_kib"] = static_cast<double>(charged_at_end - charged_at_half) /
                                            1024.0 / static_cast<double>(walls - half);
    }
    state.counters["clone_side_kib"] = per_wall_bytes(creator_bytes);
    state.counters["session_cgroup_kib"] = per_wall_bytes(session_bytes);
    // moat-init itself: proportional share (shared libraries split between the N walls),
    // resident, and private pages.
    state.counters["init_pss_kib"] = per_wall(pss_kib);
    state.counters["init_rss_kib"] = per_wall(rss_kib);
    state.counters["init_private_kib"] = per_wall(private_kib);
    // What the machine lost, from /proc/meminfo: MemAvailable before and after the walls
    // were created, and again after they were stopped. Includes what is not charged to any
    // cgroup, and everything else the machine did meanwhile: only meaningful on a quiet one.
    state.counters["memavail_up_kib"] = per_wall(before.available - up.available);
    state.counters["memavail_down_kib"] = per_wall(down.available - up.available);
    state.counters["slab_unrecl_kib"] = per_wall(up.slab_unreclaimable - before.slab_unreclaimable);
    state.counters["slab_recl_kib"] = per_wall(up.slab_reclaimable - before.slab_reclaimable);
    state.counters["pagetables_kib"] = per_wall(up.page_tables - before.page_tables);
    state.counters["kstack_kib"] = per_wall(up.kernel_stack - before.kernel_stack);
    state.counters["percpu_kib"] = per_wall(up.percpu - before.percpu);
  }
}

// --- set-up --------------------------------------------------------------------------------

bool EnsureBenchUser() {
  if (::getpwnam(kBenchUser) != nullptr) return true;
  const char* argv[] = {"useradd", "-m", kBenchUser, nullptr};
  pid_t pid = 0;
  if (::posix_spawnp(&pid, "useradd", nullptr, nullptr, const_cast<char* const*>(argv), environ) !=
      0) {
    return false;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 && ::getpwnam(kBenchUser) != nullptr;
}

// Removes the private run directory (walls already stopped; the compiled seccomp profile the
// manager cached there goes with it) and the cgroup parent, from the
// unified root and from every hierarchy mounted below it, whichever the driver used.
void CleanUp(const ManagerOptions& options) {
  std::error_code ignored;
  std::filesystem::remove_all(options.run_dir, ignored);
  const auto& c = options.cgroups;
  ::rmdir((c.mount_root + "/" + c.parent).c_str());
  DIR* root = ::opendir(c.mount_root.c_str());
  if (root == nullptr) return;
  while (struct dirent* entry = ::readdir(root)) {
    if (entry->d_name[0] == '.') continue;
    ::rmdir((c.mount_root + "/" + entry->d_name + "/" + c.parent).c_str());
  }
  ::closedir(root);
}

}  // namespace

int main(int argc, char** argv) {
  moat::bench::TakeOwnFlags(argc, argv, {{"--bench_idle_walls=", &g_idle_walls}});
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (::geteuid() != 0) {
    std::fprintf(stderr, "moat-bench-wall: skipped: needs root to build session walls\n");
    return 77;
  }
  if (!EnsureBenchUser()) {
    std::fprintf(stderr, "moat-bench-wall: user '%s' is missing and 'useradd -m %s' failed\n",
                 kBenchUser, kBenchUser);
    return 1;
  }
  // The moat-init built with this tree, unless the caller points elsewhere.
  ::setenv("MOAT_INIT", MOAT_BENCH_INIT_PATH, 0);

  ManagerOptions options;
  options.run_dir = "/run/moat-bench-" + std::to_string(::getpid());
  options.cgroups.parent = kCgroupParent;
  auto manager = SessionManager::Open(options);
  if (!manager) {
    std::fprintf(stderr, "moat-bench-wall: %s\n", manager.error().message().c_str());
    return 1;
  }
  g_manager = manager->get();

  benchmark::RegisterBenchmark("BM_WallCreateRunTeardown", BM_WallCreateRunTeardown)
      ->ArgName("gap_ms")
      ->Arg(0)
      ->Arg(100)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_WallCreateTeardownNoCommand", BM_WallCreateTeardownNoCommand)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_SeccompCompile", BM_SeccompCompile)
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_IdleWallMemory", BM_IdleWallMemory)
      ->Arg(g_idle_walls)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  CleanUp(g_manager->options());
  return g_failed ? 1 : 0;
}
