// Desktop sessions (issue 6): real Xvnc, openbox and xterm in real walls, reached from the host
// through the RFB Unix socket the agent reports, as the display gateway will reach them.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "agent_test_support.h"
#include "moat/common/testing/rfb_test_client.h"
#include "rfb_probe.h"
#include "session_processes.h"

namespace moat::agent::test {

using moat::test::Framebuffer;
using moat::test::RfbTestClient;
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr char kOtherUser[] = "moat-agent-test2";

wire::Envelope DesktopRequest(const std::string& id, const std::string& user,
                              std::optional<std::string> geometry = std::nullopt) {
  wire::SessionCreate body;
  body.session_id = id;
  body.user = user;
  body.desktop = true;
  body.geometry = std::move(geometry);
  return wire::MakeMessage(body);
}

struct Pixels {
  size_t white = 0, other = 0, colours = 0;
};

Pixels Count(const Framebuffer& frame) {
  Pixels count;
  std::set<uint32_t> colours;
  for (uint32_t pixel : frame.pixels) {
    (pixel == 0xFFFFFF ? count.white : count.other)++;
    if (colours.size() < 64) colours.insert(pixel);
  }
  count.colours = colours.size();
  return count;
}

// Pss and private bytes of every process of a session, from smaps_rollup.
struct Memory {
  uint64_t pss = 0, private_bytes = 0, anonymous = 0;
  size_t processes = 0;
};

uint64_t Field(const std::string& text, const std::string& key) {
  auto at = text.find("\n" + key + ":");
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + key.size() + 2, nullptr, 10) * 1024;
}

class AgentDesktop : public AgentTest {
 protected:
  void SetUp() override {
    AgentTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    for (const char* tool :
         {"/usr/bin/Xvnc", "/usr/bin/openbox", "/usr/bin/xterm", "/usr/bin/xprop"}) {
      ASSERT_EQ(::access(tool, X_OK), 0) << tool << " is missing: run scripts/install-deps.sh";
    }
    moat::test::EnsureUser(kOtherUser);
  }

  // Creates a desktop session and returns the RFB socket path its reply names.
  std::string CreateDesktop(const std::string& id, const std::string& user = kTestUser) {
    wire::Envelope reply = Send(DesktopRequest(id, user));
    EXPECT_FALSE(reply.error) << reply.error->code << ": " << reply.error->message;
    if (reply.error) return "";
    return reply.body.value("rfb_socket", std::string());
  }

  moat::test::CommandResult InWall(const std::string& id, const std::string& script) {
    return moat::test::Sandbox(run_dir_).Exec(id, "export DISPLAY=:1; " + script);
  }

  Memory SessionMemory(const std::string& id, bool print) {
    Memory memory;
    auto info = backend_->manager().Find(id);
    if (!info) return memory;
    auto processes = ListSessionProcesses(backend_->Cgroups(), *info);
    if (!processes) return memory;
    for (const auto& process : *processes) {
      std::string text = "\n" + moat::test::ReadFile("/proc/" + std::to_string(process.host_pid) +
                                                     "/smaps_rollup");
      memory.pss += Field(text, "Pss");
      memory.private_bytes += Field(text, "Private_Clean") + Field(text, "Private_Dirty");
      memory.anonymous += Field(text, "Anonymous");
      memory.processes++;
      if (!print) continue;
      std::printf(
          "[ figures  ]   %-10s Pss %6.1f MiB, Private_Clean %6.1f, Private_Dirty %6.1f, "
          "Anonymous %6.1f\n",
          process.info.command.substr(0, 10).c_str(), Field(text, "Pss") / 1048576.0,
          Field(text, "Private_Clean") / 1048576.0, Field(text, "Private_Dirty") / 1048576.0,
          Field(text, "Anonymous") / 1048576.0);
    }
    return memory;
  }

  // Full frames until xterm's white window shows, or the deadline.
  Framebuffer AwaitDrawnFrame(RfbTestClient& client, milliseconds timeout) {
    Framebuffer frame;
    auto deadline = Clock::now() + timeout;
    do {
      auto got = client.FullFrame();
      EXPECT_TRUE(got) << got.error().message();
      if (!got) return frame;
      frame = std::move(*got);
      // xterm's 80x24 window is about 480x300 white pixels; the rest is the root window.
      if (Count(frame).white > 50000) return frame;
      std::this_thread::sleep_for(milliseconds(50));
    } while (Clock::now() < deadline);
    return frame;
  }
};

TEST_F(AgentDesktop, DesktopSessionIsReadyWithItsRfbSocketOnlyHostRootReaches) {
  std::string id = moat::test::UniqueId("ad-ready");
  std::string socket = CreateDesktop(id);
  ASSERT_EQ(socket, SessionDir(id) + "/display/rfb.sock");
  EXPECT_TRUE(ProbeRfbGreeting(socket, milliseconds(2000)));

  struct stat st {};
  ASSERT_EQ(::lstat(socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, moat::test::UidOf(kTestUser));
  ASSERT_EQ(::stat((SessionDir(id) + "/display").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(st.st_uid, moat::test::UidOf(kTestUser));
  ASSERT_EQ(::stat(SessionDir(id).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "the session dir keeps everyone but root out";
  EXPECT_EQ(st.st_uid, 0u);

  // Inside: Xvnc, openbox and xterm run as the user; no TCP listener anywhere in the wall.
  auto ps = InWall(id, "ps -eo user:20,comm --no-headers");
  EXPECT_NE(ps.out.find("Xvnc"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("openbox"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("xterm"), std::string::npos) << ps.out;
  EXPECT_EQ(ps.out.find("root"), std::string::npos) << ps.out;
  auto tcp = InWall(id, "cat /proc/net/tcp /proc/net/tcp6 | awk '$4 == \"0A\"' | wc -l");
  EXPECT_EQ(moat::test::Trim(tcp.out), "0") << "a listening TCP socket in the wall";
  auto theme = InWall(id, "xprop -root _OB_THEME");
  EXPECT_NE(theme.out.find(" = "), std::string::npos) << theme.out << theme.err;
}

TEST_F(AgentDesktop, RfbClientFromTheHostSeesXtermDrawn) {
  std::string id = moat::test::UniqueId("ad-rfb");
  wire::Envelope reply = Send(DesktopRequest(id, kTestUser, "1024x768"));
  ASSERT_FALSE(reply.error) << reply.error->message;
  auto client = RfbTestClient::Connect(reply.body.value("rfb_socket", ""), milliseconds(5000));
  ASSERT_TRUE(client) << client.error().message();
  EXPECT_EQ(client->width(), 1024);
  EXPECT_EQ(client->height(), 768);
  EXPECT_EQ(client->desktop_name(), "moat-" + id);
  Framebuffer frame = AwaitDrawnFrame(*client, milliseconds(10000));
  Pixels pixels = Count(frame);
  std::printf("[ figures  ] frame %ux%u: %zu white (xterm) pixels, %zu others, >=%zu colours\n",
              frame.width, frame.height, pixels.white, pixels.other, pixels.colours);
  EXPECT_GT(pixels.white, 50000u) << "no xterm window in the frame";
  EXPECT_GT(pixels.other, 50000u) << "the frame is all white";
  EXPECT_GE(pixels.colours, 2u);
}

TEST_F(AgentDesktop, UserStartupReplacesTheDefault) {
  std::string home = moat::test::HomeOf(kTestUser);
  std::string script = home + "/.config/moat/session";
  ASSERT_EQ(moat::test::RunCommand({"runuser", "-u", kTestUser, "--", "sh", "-c",
                                    "mkdir -p ~/.config/moat && printf '#!/bin/sh\\n"
                                    "touch /run/moat/display/started-by-user; exec sleep 600\\n' "
                                    "> ~/.config/moat/session && chmod +x ~/.config/moat/session"})
                .exit_code,
            0);
  std::string id = moat::test::UniqueId("ad-user");
  std::string socket = CreateDesktop(id);
  ASSERT_FALSE(socket.empty());
  auto deadline = Clock::now() + milliseconds(5000);
  while (!moat::test::Exists(SessionDir(id) + "/display/started-by-user") &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  ::unlink(script.c_str());  // only now: the start-up looks for it once it runs
  EXPECT_TRUE(moat::test::Exists(SessionDir(id) + "/display/started-by-user"))
      << moat::test::ReadFile(SessionDir(id) + "/display/desktop.log");
  auto ps = InWall(id, "ps -eo comm --no-headers");
  EXPECT_EQ(ps.out.find("xterm"), std::string::npos) << ps.out;
  // Without xterm the screen is the window manager's empty root: nothing white.
  auto client = RfbTestClient::Connect(socket, milliseconds(5000));
  ASSERT_TRUE(client) << client.error().message();
  auto frame = client->FullFrame();
  ASSERT_TRUE(frame) << frame.error().message();
  EXPECT_LT(Count(*frame).white, 1000u) << "the pixel check would pass without xterm";
}

TEST_F(AgentDesktop, TwoUsersDesktopsCannotReachEachOther) {
  std::string a = moat::test::UniqueId("ad-a"), b = moat::test::UniqueId("ad-b");
  std::string socket_a = CreateDesktop(a, kTestUser);
  std::string socket_b = CreateDesktop(b, kOtherUser);
  ASSERT_FALSE(socket_a.empty());
  ASSERT_FALSE(socket_b.empty());
  ASSERT_TRUE(InWall(a, "xprop -root -f MOAT_MARK 8s -set MOAT_MARK wall-a").exit_code == 0);

  for (const auto& [self, other, other_socket] :
       {std::tuple{a, b, socket_b}, std::tuple{b, a, socket_a}}) {
    SCOPED_TRACE("from " + self);
    // Only its own display dir; the other's host path does not exist in here.
    EXPECT_EQ(moat::test::Trim(InWall(self, "ls -A /run/moat").out), "display");
    auto stat = InWall(self, "stat '" + other_socket + "' '" + SessionDir(other) + "'");
    EXPECT_NE(stat.exit_code, 0) << stat.out;
    auto connect = InWall(self,
                          "python3 -c \"import socket,sys; s=socket.socket(socket.AF_UNIX); "
                          "s.connect(sys.argv[1])\" '" +
                              other_socket + "'");
    EXPECT_NE(connect.exit_code, 0) << "connected to the other session's RFB socket";
    // One X socket in its own /tmp, and display :1 is its own server: the mark set on a's
    // root window is seen in a only.
    EXPECT_EQ(moat::test::Trim(InWall(self, "ls -A /tmp/.X11-unix").out), "X1");
    auto mark = InWall(self, "xprop -root MOAT_MARK");
    EXPECT_EQ(mark.out.find("wall-a") != std::string::npos, self == a) << mark.out;
    for (const char* display : {":0", ":2"}) {
      auto other_display = InWall(self, std::string("xprop -display ") + display + " -root");
      EXPECT_NE(other_display.exit_code, 0) << display << ": " << other_display.out;
    }
  }
  // On the host, the other session's user (outside any wall) cannot traverse to a's socket.
  auto outside =
      moat::test::RunCommand({"runuser", "-u", kOtherUser, "--", "test", "-e", socket_a});
  EXPECT_NE(outside.exit_code, 0);
  auto listing = moat::test::RunCommand({"runuser", "-u", kOtherUser, "--", "ls", SessionDir(a)});
  EXPECT_NE(listing.exit_code, 0) << listing.out;
}

TEST_F(AgentDesktop, EndingTheSessionRemovesTheSocketAndEveryProcess) {
  std::string id = moat::test::UniqueId("ad-end");
  std::string socket = CreateDesktop(id);
  ASSERT_FALSE(socket.empty());
  // Something of the user's own in the display dir, as a session could leave.
  ASSERT_EQ(InWall(id,
                   "mkdir -p /run/moat/display/d/e && touch /run/moat/display/d/e/f && "
                   "ln -s /etc/passwd /run/moat/display/link")
                .exit_code,
            0);
  auto info = backend_->manager().Find(id);
  ASSERT_TRUE(info);
  auto processes = ListSessionProcesses(backend_->Cgroups(), *info);
  ASSERT_TRUE(processes) << processes.error().message();
  ASSERT_GE(processes->size(), 4u) << "moat-init, Xvnc, openbox, xterm";

  wire::Envelope reply = Send(ActionRequest(id, wire::SessionActionKind::kEnd));
  ASSERT_FALSE(reply.error) << reply.error->message;
  EXPECT_FALSE(moat::test::Exists(socket));
  EXPECT_FALSE(moat::test::Exists(SessionDir(id)));
  EXPECT_TRUE(moat::test::Exists("/etc/passwd"));
  EXPECT_FALSE(backend_->Cgroups().Exists(id));
  for (const auto& process : *processes) {
    EXPECT_NE(::kill(process.host_pid, 0), 0)
        << "process " << process.host_pid << " (" << process.info.command << ") survived";
  }
}

// The host's choice of window manager and default start-up (moat-agent --window-manager,
// --desktop-startup). A window manager not called openbox is ready on EWMH's
// _NET_SUPPORTING_WM_CHECK: here openbox under another name, which sets that too.
TEST_F(AgentDesktop, TheHostsWindowManagerAndDefaultStartupAreUsed) {
  std::string wm = moat::test::HomeOf(kTestUser) + "/other-wm";
  ASSERT_EQ(moat::test::RunCommand(
                {"runuser", "-u", kTestUser, "--", "sh", "-c",
                 "printf '#!/bin/sh\\nexec openbox \"$@\"\\n' > " + wm + " && chmod +x " + wm})
                .exit_code,
            0);
  DesktopOptions options;
  options.window_manager = wm;
  options.default_startup = {"xmessage", "configured-startup"};
  options.ready_timeout = milliseconds(15000);
  sandbox::ManagerOptions manager;
  manager.run_dir = run_dir_.path();
  auto backend = SandboxBackend::Open(manager, options);
  ASSERT_TRUE(backend) << backend.error().message();
  MessageHandler handler(**backend);
  std::string id = moat::test::UniqueId("ad-hostwm");
  auto reply = handler.Handle(DesktopRequest(id, kTestUser));
  ASSERT_TRUE(reply);
  ASSERT_FALSE(reply->error) << reply->error->message;
  auto deadline = Clock::now() + milliseconds(5000);
  std::string ps;
  while (Clock::now() < deadline && ps.find("xmessage") == std::string::npos) {
    ps = InWall(id, "ps -eo comm --no-headers").out;
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_NE(ps.find("xmessage"), std::string::npos) << ps;
  EXPECT_EQ(ps.find("xterm"), std::string::npos) << ps;
  EXPECT_NE(ps.find("openbox"), std::string::npos) << ps;
  EXPECT_TRUE((*backend)->End(id, milliseconds(2000)));
  ::unlink(wm.c_str());
}

TEST_F(AgentDesktop, WindowManagerThatNeverComesUpFailsClearlyAndLeavesNothing) {
  DesktopOptions options;
  options.window_manager = "/bin/true";  // runs, exits, never sets _NET_SUPPORTING_WM_CHECK
  options.ready_timeout = milliseconds(3000);
  sandbox::ManagerOptions manager;
  manager.run_dir = run_dir_.path();
  auto backend = SandboxBackend::Open(manager, options);
  ASSERT_TRUE(backend) << backend.error().message();
  MessageHandler handler(**backend);
  std::string id = moat::test::UniqueId("ad-nowm");
  auto reply = handler.Handle(DesktopRequest(id, kTestUser));
  ASSERT_TRUE(reply);
  ASSERT_TRUE(reply->error);
  EXPECT_NE(reply->error->message.find("did not set _NET_SUPPORTING_WM_CHECK"), std::string::npos)
      << reply->error->message;
  EXPECT_EQ(SessionCount(), 0u);
  EXPECT_FALSE(moat::test::Exists(SessionDir(id)));
}

TEST_F(AgentDesktop, DesktopLessSessionHasNoDisplay) {
  std::string id = CreateSession("ad-none");
  EXPECT_FALSE(moat::test::Exists(SessionDir(id) + "/display"));
  EXPECT_EQ(moat::test::Trim(moat::test::Sandbox(run_dir_)
                                 .Exec(id,
                                       "ls -A /run/moat 2>&1; "
                                       "ls -A /tmp")
                                 .out)
                .find("display"),
            std::string::npos);
}

// Figures for docs/performance.md, printed, not asserted: create -> RFB greeting (probed from
// the host while the create runs) and create -> reply (window manager ready, start-up
// launched); then Pss and private memory of idle desktops, all five running side by side so
// that the libraries they share are divided between them as they would be on a busy host.
TEST_F(AgentDesktop, FiguresCreateToReadyAndIdleMemory) {
  constexpr int kRuns = 5;
  std::vector<double> rfb_ms, wm_ms;
  std::vector<std::string> ids;
  for (int run = 0; run < kRuns; ++run) {
    std::string id = moat::test::UniqueId("ad-fig");
    std::string socket = SessionDir(id) + "/display/rfb.sock";
    std::atomic<bool> done{false};
    std::atomic<int64_t> rfb_us{-1};
    auto start = Clock::now();
    std::thread probe([&] {
      while (!done) {
        if (ProbeRfbGreeting(socket, milliseconds(500))) {
          rfb_us =
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
          return;
        }
        std::this_thread::sleep_for(milliseconds(1));
      }
    });
    wire::Envelope reply = Send(DesktopRequest(id, kTestUser));
    auto wm = Clock::now() - start;
    done = true;
    probe.join();
    ASSERT_FALSE(reply.error) << reply.error->message;
    rfb_ms.push_back(static_cast<double>(rfb_us.load()) / 1000.0);
    wm_ms.push_back(std::chrono::duration<double, std::milli>(wm).count());
    ids.push_back(id);
  }
  std::sort(rfb_ms.begin(), rfb_ms.end());
  std::sort(wm_ms.begin(), wm_ms.end());
  std::printf("[ figures  ] create -> RFB greeting: median %.0f ms (min %.0f, max %.0f)\n",
              rfb_ms[kRuns / 2], rfb_ms.front(), rfb_ms.back());
  std::printf("[ figures  ] create -> WM ready (reply): median %.0f ms (min %.0f, max %.0f)\n",
              wm_ms[kRuns / 2], wm_ms.front(), wm_ms.back());
  std::this_thread::sleep_for(milliseconds(3000));  // idle: xterm drawn, nothing happening
  Memory total;
  uint64_t cgroup_total = 0;
  for (const auto& id : ids) {
    Memory memory = SessionMemory(id, /*print=*/id == ids.back());
    EXPECT_GE(memory.processes, 4u);
    total.pss += memory.pss;
    total.private_bytes += memory.private_bytes;
    total.anonymous += memory.anonymous;
    auto usage = backend_->Usage(id, "");
    if (usage) cgroup_total += usage->memory_current;
  }
  auto per = [&](uint64_t bytes) { return static_cast<double>(bytes) / kRuns / (1 << 20); };
  std::printf(
      "[ figures  ] per idle desktop (%d side by side): Pss %.1f MiB, private %.1f MiB, "
      "anonymous %.1f MiB, cgroup memory.current %.1f MiB\n",
      kRuns, per(total.pss), per(total.private_bytes), per(total.anonymous), per(cgroup_total));
}

}  // namespace
}  // namespace moat::agent::test
