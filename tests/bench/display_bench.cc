// Desktops (issue 6): the time from a native VNC login to the first full frame with the
// session's xterm in it, for a login that starts the session and for one that returns to a
// disconnected session; and the memory of idle desktops. The peer in the same run is the same
// desktop without Moat: Xvnc, openbox and xterm started straight on the host and read over
// Xvnc's own socket. Figures: docs/performance.md.
//
// Extra flags: --bench_desktops=N (default 20) idle desktops for BM_IdleDesktopMemory;
// --bench_logins=N (default 10) repetitions of each login benchmark.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "broker_harness.h"
#include "moat/common/testing/rfb_test_client.h"
#include "own_flags.h"
#include "test_support.h"

namespace {

using moat::e2e::Api;
using moat::e2e::BrokerProcess;
using moat::test::Framebuffer;
using moat::test::RfbTestClient;
using Clock = std::chrono::steady_clock;

constexpr char kUser[] = "moat-bench-desk";
constexpr char kPassword[] = "pw-moat-bench-desk-secret";  // MakeUser's
int g_desktops = 20;
int g_logins = 10;
BrokerProcess* g_broker = nullptr;

size_t White(const Framebuffer& frame) {
  size_t white = 0;
  for (uint32_t pixel : frame.pixels) white += pixel == 0xFFFFFF;
  return white;
}

// Full frames until the xterm's window is in one; false after 20 s.
bool AwaitXterm(RfbTestClient& client) {
  auto deadline = Clock::now() + std::chrono::seconds(20);
  size_t white = 0;
  while (Clock::now() < deadline) {
    auto frame = client.FullFrame();
    if (!frame) {
      std::fprintf(stderr, "frame: %s\n", frame.error().message().c_str());
      return false;
    }
    white = White(*frame);
    if (white > 50000) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::fprintf(stderr, "no xterm: %zu white pixels in the last frame\n", white);
  return false;
}

moat::Result<RfbTestClient> Login() {
  return RfbTestClient::ConnectVencrypt({.host = "127.0.0.1",
                                         .port = g_broker->display_port(),
                                         .ca_pem = g_broker->ca_pem(),
                                         .verify_hostname = "127.0.0.1",
                                         .user = kUser,
                                         .password = kPassword},
                                        std::chrono::seconds(30));
}

void EndAllSessions(Api& api) {
  auto live = api.Call("GET", "/api/v1/sessions?live=1&limit=1000");
  for (const auto& session : live.body["sessions"]) {
    api.Call("POST", "/api/v1/sessions/" + session["id"].get<std::string>() + "/end");
  }
}

std::string StateOf(Api& api, const std::string& id) {
  auto got = api.Call("GET", "/api/v1/sessions/" + id);
  return got.status == 200 ? got.body.value("state", "") : "";
}

// Login with no session: the gateway starts one; the clock stops at the first frame that
// shows the xterm.
void BM_NativeLoginNewSession(benchmark::State& state) {
  Api user = moat::e2e::MakeUser(*g_broker, kUser, "user");
  EndAllSessions(user);
  for (auto _ : state) {
    auto start = Clock::now();
    auto client = Login();
    if (!client || !AwaitXterm(*client)) {
      state.SkipWithError(client ? "no xterm in the frame" : client.error().message().c_str());
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
    state.PauseTiming();
    EndAllSessions(user);
    state.ResumeTiming();
  }
}

// Login to a disconnected session: authentication, the relay and the first frame.
void BM_NativeLoginReconnect(benchmark::State& state) {
  Api user = moat::e2e::MakeUser(*g_broker, kUser, "user");
  EndAllSessions(user);
  std::string id;
  {
    auto first = Login();
    if (!first || !AwaitXterm(*first)) {
      state.SkipWithError("the first login failed");
      return;
    }
    id = first->desktop_name().substr(5);
  }
  for (auto _ : state) {
    state.PauseTiming();
    bool disconnected = moat::e2e::WaitFor([&] { return StateOf(user, id) == "disconnected"; }, 10);
    state.ResumeTiming();
    if (!disconnected) {
      state.SkipWithError("the session never showed as disconnected");
      break;
    }
    auto start = Clock::now();
    auto client = Login();
    if (!client || !AwaitXterm(*client)) {
      state.SkipWithError("reconnect failed");
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
  EndAllSessions(user);
}

// The browser: Debian's Chromium (playwright-core) loads the login page, logs in, connects
// to the user's disconnected session through noVNC and waits until the canvas shows the
// xterm. tests/e2e/browser/login_page.mjs does the clicking and the timing; each run is a
// fresh browser context (nothing cached but what the HTTP cache may keep across contexts:
// nothing, so noVNC's files load every time).
void BM_BrowserPageToDesktop(benchmark::State& state) {
  std::string script = std::string(MOAT_BENCH_BROWSER_DIR) + "/login_page.mjs";
  if (::access("/usr/bin/chromium", X_OK) != 0 ||
      !std::filesystem::exists(std::string(MOAT_BENCH_BROWSER_DIR) + "/node_modules")) {
    state.SkipWithError("no chromium or no node_modules (scripts/install-deps.sh)");
    return;
  }
  Api user = moat::e2e::MakeUser(*g_broker, kUser, "user");
  EndAllSessions(user);
  auto created = user.Call("POST", "/api/v1/sessions", moat::e2e::Json::object());
  if (created.status != 201) {
    state.SkipWithError(("create: " + created.raw).c_str());
    return;
  }
  std::string id = created.body["id"];
  std::string shots = g_broker->state_dir() + "/browser-bench";
  for (auto _ : state) {
    auto run = moat::test::RunCommand(
        {"env", "MOAT_URL=" + g_broker->url(), "MOAT_USER=" + std::string(kUser),
         "MOAT_PASSWORD=" + std::string(kPassword), "MOAT_SHOTS=" + shots,
         "MOAT_STEPS=page-to-desktop", "MOAT_EXPECT_SESSION=" + id,
         "MOAT_TIMING_RUNS=" + std::to_string(g_logins), "node", script},
        300);
    std::ifstream in(shots + "/result.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto result = moat::e2e::Json::parse(text, nullptr, false);
    if (run.exit_code != 0 || result.is_discarded() || !result["page_to_desktop_ms"].is_array()) {
      state.SkipWithError(("login_page.mjs failed: " + run.out + run.err).c_str());
      break;
    }
    std::vector<double> times = result["page_to_desktop_ms"];
    std::sort(times.begin(), times.end());
    state.counters["runs"] = static_cast<double>(times.size());
    state.counters["median_ms"] = times[times.size() / 2];
    state.counters["min_ms"] = times.front();
    state.counters["max_ms"] = times.back();
  }
  EndAllSessions(user);
}

// --- the peer: the same desktop without Moat ------------------------------------------------

struct BareDesktop {
  int display = 0;
  std::string dir;
  std::vector<pid_t> pids;
  std::string socket() const { return dir + "/rfb.sock"; }
  ~BareDesktop() {
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    for (pid_t pid : pids) ::waitpid(pid, nullptr, 0);
    std::filesystem::remove_all(dir);
    // Killed X servers leave their lock and socket behind.
    std::filesystem::remove("/tmp/.X" + std::to_string(display) + "-lock");
    std::filesystem::remove("/tmp/.X11-unix/X" + std::to_string(display));
  }
};

// An X display number nobody holds, from `from` on.
int FreeDisplay(int from) {
  for (int n = from;; ++n) {
    if (!std::filesystem::exists("/tmp/.X" + std::to_string(n) + "-lock") &&
        !std::filesystem::exists("/tmp/.X11-unix/X" + std::to_string(n))) {
      return n;
    }
  }
}

// As in a wall: the same programs with the same minimal environment (a wall's processes get
// PATH and DISPLAY only; the host's LANG would change xterm's font work).
std::unique_ptr<BareDesktop> StartBareDesktop(int from) {
  auto desktop = std::make_unique<BareDesktop>();
  int display = FreeDisplay(from);
  desktop->display = display;
  desktop->dir = "/tmp/moat-bench-bare-" + std::to_string(display);
  std::filesystem::create_directories(desktop->dir);
  std::string log = desktop->dir + "/log";
  std::string name = ":" + std::to_string(display);
  desktop->pids.push_back(moat::test::SpawnLogged(
      {"/usr/bin/Xvnc", name, "-rfbunixpath", desktop->socket(), "-rfbport", "-1", "-nolisten",
       "tcp", "-SecurityTypes", "None", "-geometry", "1280x800", "-depth", "24", "-extension",
       "GLX"},  // as the agent starts it
      log, log));
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::exists(desktop->socket()) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Like the agent: xterm once openbox says it is ready (_OB_THEME on the root window).
  for (const char* program : {"/usr/bin/openbox", "/usr/bin/xterm"}) {
    desktop->pids.push_back(
        moat::test::SpawnLogged({"/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                 "HOME=" + desktop->dir, "DISPLAY=" + name, program},
                                log, log));
    while (std::string(program) == "/usr/bin/openbox" && Clock::now() < deadline) {
      auto theme =
          moat::test::RunCommand({"/usr/bin/xprop", "-display", name, "-root", "_OB_THEME"}, 5);
      if (theme.out.find('=') != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  return desktop;
}

void BM_PeerBareDesktopStart(benchmark::State& state) {
  for (auto _ : state) {
    auto start = Clock::now();
    auto desktop = StartBareDesktop(150);
    auto client = RfbTestClient::Connect(desktop->socket(), std::chrono::seconds(10));
    if (!client || !AwaitXterm(*client)) {
      state.SkipWithError("the bare desktop did not show its xterm");
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
    state.PauseTiming();
    desktop.reset();
    state.ResumeTiming();
  }
}

void BM_PeerBareDesktopConnect(benchmark::State& state) {
  auto desktop = StartBareDesktop(149);
  {
    auto warm = RfbTestClient::Connect(desktop->socket(), std::chrono::seconds(10));
    if (!warm || !AwaitXterm(*warm)) {
      state.SkipWithError("the bare desktop did not show its xterm");
      return;
    }
  }
  for (auto _ : state) {
    auto start = Clock::now();
    auto client = RfbTestClient::Connect(desktop->socket(), std::chrono::seconds(10));
    if (!client || !AwaitXterm(*client)) {
      state.SkipWithError("connect failed");
      break;
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
}

// --- memory ----------------------------------------------------------------------------------

// Private memory (Private_Clean + Private_Dirty) of a process, in KiB.
long PrivateKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string key;
  std::getline(in, key);  // the address range line
  long value = 0, total = 0;
  std::string unit;
  while (in >> key >> value >> unit) {
    if (key == "Private_Clean:" || key == "Private_Dirty:") total += value;
  }
  return total;
}

// `roots` and every process below them (xterm's shell, say), from /proc.
std::set<pid_t> WithDescendants(const std::vector<pid_t>& roots) {
  std::set<pid_t> found(roots.begin(), roots.end());
  std::vector<std::pair<pid_t, pid_t>> parents;  // pid, ppid
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    pid_t pid = std::atoi(entry.path().filename().c_str());
    if (pid <= 0) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    parents.emplace_back(pid, ppid);
  }
  for (bool grew = true; grew;) {
    grew = false;
    for (auto [pid, ppid] : parents) {
      if (found.count(ppid) && found.insert(pid).second) grew = true;
    }
  }
  return found;
}

void CollectProcs(const std::string& dir, std::set<pid_t>& pids) {
  std::ifstream procs(dir + "/cgroup.procs");
  pid_t pid = 0;
  while (procs >> pid) pids.insert(pid);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (struct dirent* entry = ::readdir(d)) {
    if (entry->d_type == DT_DIR && entry->d_name[0] != '.') {
      CollectProcs(dir + "/" + entry->d_name, pids);
    }
  }
  ::closedir(d);
}

// Every process of a session, from its cgroup (whichever hierarchy holds the processes).
std::set<pid_t> SessionPids(const std::string& id) {
  std::set<pid_t> pids;
  for (const char* root : {"/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup"}) {
    std::string dir = std::string(root) + "/" + g_broker->cgroup_parent() + "/" + id;
    if (!std::filesystem::exists(dir)) continue;
    CollectProcs(dir, pids);
    if (!pids.empty()) break;
  }
  return pids;
}

void BM_IdleDesktopMemory(benchmark::State& state) {
  Api admin = moat::e2e::AdminApi(*g_broker);
  admin.Call("PUT", "/api/v1/policies",
             {{"scope", "global"}, {"key", "sessions_per_user"}, {"value", g_desktops + 5}});
  Api user = moat::e2e::MakeUser(*g_broker, kUser, "user");
  EndAllSessions(user);
  for (auto _ : state) {
    std::vector<std::string> ids;
    for (int i = 0; i < g_desktops; ++i) {
      auto created = user.Call("POST", "/api/v1/sessions", moat::e2e::Json::object());
      if (created.status != 201) {
        state.SkipWithError(("create: " + created.raw).c_str());
        return;
      }
      ids.push_back(created.body["id"]);
    }
    std::this_thread::sleep_for(std::chrono::seconds(5));  // idle: start-up settled
    long moat_kib = 0;
    size_t processes = 0;
    for (const auto& id : ids) {
      for (pid_t pid : SessionPids(id)) {
        moat_kib += PrivateKib(pid);
        ++processes;
      }
    }
    EndAllSessions(user);

    std::vector<std::unique_ptr<BareDesktop>> bare;
    for (int i = 0; i < g_desktops; ++i) bare.push_back(StartBareDesktop(200));
    std::this_thread::sleep_for(std::chrono::seconds(5));
    long bare_kib = 0;
    size_t bare_processes = 0;
    for (const auto& desktop : bare) {
      for (pid_t pid : WithDescendants(desktop->pids)) {
        bare_kib += PrivateKib(pid);
        ++bare_processes;
      }
    }
    bare.clear();

    double n = g_desktops;
    state.counters["desktops"] = n;
    state.counters["moat_processes_per_desktop"] = processes / n;
    state.counters["bare_processes_per_desktop"] = bare_processes / n;
    state.counters["moat_private_mib_per_desktop"] = moat_kib / 1024.0 / n;
    state.counters["bare_private_mib_per_desktop"] = bare_kib / 1024.0 / n;
    state.counters["ratio_moat_to_bare"] = bare_kib > 0 ? double(moat_kib) / bare_kib : 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  moat::bench::TakeOwnFlags(argc, argv,
                            {{"--bench_desktops=", &g_desktops}, {"--bench_logins=", &g_logins}});
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (::geteuid() != 0) {
    std::fprintf(stderr, "moat-bench-display: skipped: needs root for session walls\n");
    return 77;
  }
  BrokerProcess broker;
  broker.Start();
  g_broker = &broker;
  for (auto* bench :
       {benchmark::RegisterBenchmark("BM_NativeLoginNewSession", BM_NativeLoginNewSession),
        benchmark::RegisterBenchmark("BM_PeerBareDesktopStart", BM_PeerBareDesktopStart),
        benchmark::RegisterBenchmark("BM_NativeLoginReconnect", BM_NativeLoginReconnect),
        benchmark::RegisterBenchmark("BM_PeerBareDesktopConnect", BM_PeerBareDesktopConnect)}) {
    // One login per repetition, so that the median is reported (the targets are medians).
    bench->Iterations(1)->Repetitions(g_logins)->ReportAggregatesOnly(true)->UseManualTime()->Unit(
        benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_BrowserPageToDesktop", BM_BrowserPageToDesktop)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_IdleDesktopMemory", BM_IdleDesktopMemory)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
