// The display gateway end to end: a real RFB client over real TLS (VeNCrypt X509Plain) against
// the broker, relayed to a real Xvnc in a real wall. Pixels, not just bytes: the xterm's white
// window must be in the frame, and what is typed must reach the session's files.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "broker_harness.h"
#include "moat/common/testing/rfb_test_client.h"
#include "test_support.h"

namespace moat::e2e {
namespace {

using std::chrono::milliseconds;
using test::Framebuffer;
using test::RfbTestClient;

constexpr char kUser[] = "moat-e2e-dora";
constexpr char kPassword[] = "pw-moat-e2e-dora-secret";  // MakeUser's

struct WhiteArea {
  size_t count = 0;
  uint16_t min_x = UINT16_MAX, min_y = UINT16_MAX, max_x = 0, max_y = 0;
};

WhiteArea FindWhite(const Framebuffer& frame) {
  WhiteArea area;
  for (uint16_t y = 0; y < frame.height; ++y) {
    for (uint16_t x = 0; x < frame.width; ++x) {
      if (frame.pixels[static_cast<size_t>(y) * frame.width + x] != 0xFFFFFF) continue;
      ++area.count;
      area.min_x = std::min(area.min_x, x);
      area.min_y = std::min(area.min_y, y);
      area.max_x = std::max(area.max_x, x);
      area.max_y = std::max(area.max_y, y);
    }
  }
  return area;
}

// White pixels in an X server's screen as Xvfb -fbdir keeps it: an XWD file (a big-endian
// header, a colormap, then 32-bit pixels row by row).
size_t WhiteInXwd(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto u32 = [&](size_t field) {
    const auto* p = reinterpret_cast<const uint8_t*>(data.data()) + field * 4;
    return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
           static_cast<uint32_t>(p[2]) << 8 | p[3];
  };
  if (data.size() < 100) return 0;
  uint32_t header = u32(0), width = u32(4), height = u32(5), bits = u32(11), line = u32(12);
  uint32_t colours = u32(19);
  size_t start = header + static_cast<size_t>(colours) * 12;
  if (bits != 32 || data.size() < start + static_cast<size_t>(line) * height) return 0;
  size_t white = 0;
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      const char* p = data.data() + start + static_cast<size_t>(y) * line + x * 4;
      if ((p[0] & p[1] & p[2] & 0xff) == 0xff) ++white;
    }
  }
  return white;
}

// A background process, killed and reaped at the end of the scope.
struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

class DisplayGateway : public SharedBrokerTest {
 protected:
  test::VencryptLogin LoginAs(const std::string& user, const std::string& password) const {
    return {.host = "127.0.0.1",
            .port = broker_->display_port(),
            .ca_pem = broker_->ca_pem(),
            .verify_hostname = "127.0.0.1",
            .user = user,
            .password = password};
  }

  Result<RfbTestClient> Connect(const std::string& user, const std::string& password) const {
    return RfbTestClient::ConnectVencrypt(LoginAs(user, password), milliseconds(30000));
  }

  // A connected client, or nullopt with the reason added as a failure.
  std::optional<RfbTestClient> MustConnect(const std::string& user,
                                           const std::string& password) const {
    auto client = Connect(user, password);
    if (!client) {
      ADD_FAILURE() << "login as " << user << ": " << client.error().message() << "\n"
                    << broker_->log();
      return std::nullopt;
    }
    return std::move(*client);
  }

  // Full frames until the xterm's white window shows (it maps just after the desktop is ready).
  static std::optional<Framebuffer> AwaitXterm(RfbTestClient& client) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      auto frame = client.FullFrame();
      if (!frame) {
        ADD_FAILURE() << frame.error().message();
        return std::nullopt;
      }
      if (FindWhite(*frame).count > 50000) return *frame;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return std::nullopt;
  }

  static std::string SessionIdOf(const RfbTestClient& client) {
    const std::string& name = client.desktop_name();  // "moat-<session id>"
    return name.rfind("moat-", 0) == 0 ? name.substr(5) : "";
  }

  static std::string StateOf(Api& api, const std::string& id) {
    Reply got = api.Call("GET", "/api/v1/sessions/" + id);
    return got.status == 200 ? got.body.value("state", "") : "status " + std::to_string(got.status);
  }

  static size_t AuditCount(Api& admin, const std::string& kind, const std::string& id) {
    Reply audit = admin.Call("GET", "/api/v1/audit?kind=" + kind + "&session=" + id);
    if (audit.status != 200) return 0;
    const Json& events = audit.body.contains("events") ? audit.body["events"] : audit.body;
    return events.is_array() ? events.size() : 0;
  }

  // Types into the xterm: the pointer goes to its window first so that it has the focus. Near
  // its top: openbox centres a shadow notice (xmessage) over the xterm's middle.
  static void TypeIntoXterm(RfbTestClient& client, const Framebuffer& frame,
                            const std::string& text) {
    WhiteArea white = FindWhite(frame);
    auto x = static_cast<uint16_t>((white.min_x + white.max_x) / 2);
    auto y = static_cast<uint16_t>(white.min_y + (white.max_y - white.min_y) / 8);
    ASSERT_TRUE(client.Pointer(x, y, 0));
    ASSERT_TRUE(client.Pointer(x, y, 1));
    ASSERT_TRUE(client.Pointer(x, y, 0));
    std::this_thread::sleep_for(milliseconds(200));
    ASSERT_TRUE(client.Type(text));
  }
};

TEST_F(DisplayGateway, WrongPasswordIsRefusedWithAReasonAndStartsNothing) {
  Api dora = MakeUser(*broker_, kUser, "user");
  auto refused = Connect(kUser, "not-the-password");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), std::errc::permission_denied) << refused.error().message();
  EXPECT_NE(refused.error().message().find("login refused"), std::string::npos)
      << refused.error().message();
  Reply sessions = dora.Call("GET", "/api/v1/sessions?live=1");
  ASSERT_EQ(sessions.status, 200);
  EXPECT_TRUE(sessions.body["sessions"].empty()) << sessions.raw;

  // The TLS certificate is checked: a client that trusts another CA never gets to send a
  // password.
  test::VencryptLogin wrong_ca = LoginAs(kUser, kPassword);
  wrong_ca.ca_pem = "";
  EXPECT_FALSE(RfbTestClient::ConnectVencrypt(wrong_ca, milliseconds(10000)));
}

// Auditors are read-only: a login of theirs neither starts a desktop nor reaches one.
TEST_F(DisplayGateway, AnAuditorLoginStartsNoDesktop) {
  MakeUser(*broker_, "moat-e2e-audra", "auditor");
  auto refused = Connect("moat-e2e-audra", "pw-moat-e2e-audra-secret");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("read-only"), std::string::npos)
      << refused.error().message();
  Reply sessions = AdminApi(*broker_).Call("GET", "/api/v1/sessions?user=moat-e2e-audra");
  ASSERT_EQ(sessions.status, 200) << sessions.raw;
  EXPECT_TRUE(sessions.body["sessions"].empty()) << sessions.raw;
}

TEST_F(DisplayGateway, LoginShowsTheDesktopAndReconnectFindsItAsItWas) {
  Api dora = MakeUser(*broker_, kUser, "user");
  Api admin = AdminApi(*broker_);

  // First login: no session yet, so the gateway starts one and relays its desktop.
  auto first = MustConnect(kUser, kPassword);
  ASSERT_TRUE(first);
  std::string id = SessionIdOf(*first);
  ASSERT_FALSE(id.empty()) << first->desktop_name();
  EXPECT_EQ(StateOf(dora, id), "active");
  auto frame = AwaitXterm(*first);
  ASSERT_TRUE(frame) << "the xterm never showed through the gateway";
  WhiteArea white = FindWhite(*frame);
  std::printf("[ figures  ] frame %ux%u through the gateway: %zu white (xterm) pixels\n",
              frame->width, frame->height, white.count);
  EXPECT_LT(white.count, static_cast<size_t>(frame->width) * frame->height / 2)
      << "the frame is mostly white: not a desktop with a window";

  // Typing reaches the session: the xterm runs the command as the user, in the user's home.
  std::string marker = "/home/" + std::string(kUser) + "/gateway-marker";
  std::filesystem::remove(marker);
  TypeIntoXterm(*first, *frame, "echo typed-through-the-gateway > ~/gateway-marker\n");
  EXPECT_TRUE(WaitFor([&] { return std::filesystem::exists(marker); }, 10))
      << "keys typed through the gateway did not reach the xterm";
  EXPECT_TRUE(WaitFor([&] {
    Reply got = dora.Call("GET", "/api/v1/sessions/" + id);
    return got.status == 200 && got.body["last_input_at"].is_number();
  })) << "input through the gateway did not count as activity";

  // Closing the viewer disconnects; the session keeps running.
  first.reset();
  EXPECT_TRUE(WaitFor([&] { return StateOf(dora, id) == "disconnected"; }, 10))
      << StateOf(dora, id);

  // Logging in again returns to the same desktop, with the file still there.
  auto second = MustConnect(kUser, kPassword);
  ASSERT_TRUE(second);
  EXPECT_EQ(SessionIdOf(*second), id);
  EXPECT_TRUE(WaitFor([&] { return StateOf(dora, id) == "active"; }, 10));
  EXPECT_TRUE(AwaitXterm(*second));
  EXPECT_TRUE(std::filesystem::exists(marker));

  // A second login takes it over: the first client is dropped, the newcomer sees the desktop.
  auto third = MustConnect(kUser, kPassword);
  ASSERT_TRUE(third);
  EXPECT_EQ(SessionIdOf(*third), id);
  EXPECT_TRUE(second->ClosedWithin(milliseconds(5000))) << "the taken-over client stayed";
  EXPECT_TRUE(AwaitXterm(*third));
  EXPECT_EQ(StateOf(dora, id), "active");

  EXPECT_TRUE(WaitFor([&] { return AuditCount(admin, "display.takeover", id) == 1; }, 5));
  Reply metrics = Api(*broker_).CallRaw("GET", "/metrics", "");
  EXPECT_NE(metrics.raw.find("moat_display_clients{via=\"vnc\"} 1"), std::string::npos)
      << metrics.raw;
  EXPECT_GE(AuditCount(admin, "display.connected", id), 3u);
  EXPECT_GE(AuditCount(admin, "display.disconnected", id), 1u);

  // Disconnecting through the API drops the viewer; ending the session too.
  ASSERT_EQ(admin.Call("POST", "/api/v1/sessions/" + id + "/disconnect").status, 200);
  EXPECT_TRUE(third->ClosedWithin(milliseconds(5000)));
  auto fourth = MustConnect(kUser, kPassword);
  ASSERT_TRUE(fourth);
  ASSERT_EQ(dora.Call("POST", "/api/v1/sessions/" + id + "/end").status, 200);
  EXPECT_TRUE(fourth->ClosedWithin(milliseconds(5000)));
}

// A viewer whose login started the session but that left before ClientInit: the session must
// not stay "active" with nobody attached (its disconnected timeout would never apply).
TEST_F(DisplayGateway, AViewerThatLeavesBeforeItsDesktopShowsLeavesItDisconnected) {
  Api dora = MakeUser(*broker_, kUser, "user");
  auto login = LoginAs(kUser, kPassword);
  login.stop_before_init = true;
  {
    auto gave_up = RfbTestClient::ConnectVencrypt(login, milliseconds(30000));
    ASSERT_TRUE(gave_up) << gave_up.error().message() << "\n" << broker_->log();
  }  // the viewer goes
  std::string id;
  ASSERT_TRUE(WaitFor([&] {
    Reply list = dora.Call("GET", "/api/v1/sessions");
    if (list.status != 200 || list.body["sessions"].empty()) return false;
    id = list.body["sessions"][0].value("id", "");
    return !id.empty();
  }));
  EXPECT_TRUE(WaitFor([&] { return StateOf(dora, id) == "disconnected"; }, 10))
      << StateOf(dora, id);
  Api admin = AdminApi(*broker_);
  EXPECT_EQ(AuditCount(admin, "display.left_before_shown", id), 1u);
  EXPECT_EQ(AuditCount(admin, "display.connected", id), 0u) << "no connection was shown";
  // The next login is a reconnect to that desktop.
  auto back = MustConnect(kUser, kPassword);
  ASSERT_TRUE(back);
  EXPECT_EQ(SessionIdOf(*back), id);
  EXPECT_TRUE(WaitFor([&] { return StateOf(dora, id) == "active"; }, 10));
}

TEST_F(DisplayGateway, AdminsWatchReadOnlyAndUsersCannotWatch) {
  Api dora = MakeUser(*broker_, kUser, "user");
  Api eve = MakeUser(*broker_, "moat-e2e-eve", "user");
  Api admin = AdminApi(*broker_);
  auto owner = MustConnect(kUser, kPassword);
  ASSERT_TRUE(owner);
  std::string id = SessionIdOf(*owner);
  auto frame = AwaitXterm(*owner);
  ASSERT_TRUE(frame);

  // Another user can neither watch nor take the session by its id.
  auto eve_watch = Connect("moat-e2e-eve/shadow/" + id, "pw-moat-e2e-eve-secret");
  ASSERT_FALSE(eve_watch);
  EXPECT_NE(eve_watch.error().message().find("may not watch"), std::string::npos)
      << eve_watch.error().message();
  auto eve_take = Connect("moat-e2e-eve/" + id, "pw-moat-e2e-eve-secret");
  ASSERT_FALSE(eve_take);
  EXPECT_NE(eve_take.error().message().find("no session"), std::string::npos)
      << eve_take.error().message();

  // The admin watches beside the owner; the owner stays connected and is told.
  auto watcher = MustConnect("admin/shadow/" + id, broker_->admin_password());
  ASSERT_TRUE(watcher);
  EXPECT_EQ(SessionIdOf(*watcher), id);
  auto watched = AwaitXterm(*watcher);
  ASSERT_TRUE(watched);
  EXPECT_FALSE(owner->ClosedWithin(milliseconds(1000))) << "a viewer must not take over";
  EXPECT_TRUE(WaitFor(
      [&] {
        return dora.Call("GET", "/api/v1/sessions/" + id + "/processes")
                   .raw.find("is viewing this desktop") != std::string::npos;
      },
      10))
      << "the owner was not told of the viewer";

  // What the viewer types goes nowhere.
  std::string marker = "/home/" + std::string(kUser) + "/shadow-marker";
  std::filesystem::remove(marker);
  TypeIntoXterm(*watcher, *watched, "echo typed-by-a-viewer > ~/shadow-marker\n");
  std::this_thread::sleep_for(milliseconds(2000));
  EXPECT_FALSE(std::filesystem::exists(marker)) << "a read-only viewer's keys reached the desktop";
  // The owner's keys, typed the same way with the notice up, do arrive: what makes the check
  // above mean something.
  std::string owner_marker = "/home/" + std::string(kUser) + "/owner-marker";
  std::filesystem::remove(owner_marker);
  auto owner_frame = owner->FullFrame();
  ASSERT_TRUE(owner_frame);
  TypeIntoXterm(*owner, *owner_frame, "echo typed-by-the-owner > ~/owner-marker\n");
  EXPECT_TRUE(WaitFor([&] { return std::filesystem::exists(owner_marker); }, 10))
      << "the owner's keys did not reach the xterm beside the viewer";
  std::filesystem::remove(owner_marker);

  watcher.reset();
  EXPECT_TRUE(WaitFor([&] { return AuditCount(admin, "display.shadow_ended", id) == 1; }, 5));
  EXPECT_EQ(AuditCount(admin, "display.shadow_started", id), 1u);
  EXPECT_EQ(StateOf(dora, id), "active") << "a viewer leaving must not disconnect the owner";
  ASSERT_EQ(dora.Call("POST", "/api/v1/sessions/" + id + "/end").status, 200);
}

// The attack on the gateway's connect: a user swaps their desktop's socket (in a directory of
// theirs) for a link to another user's desktop socket, back and forth, while logging in again
// and again. The broker connects as root, so a followed link would relay the victim's desktop.
TEST_F(DisplayGateway, ALinkInPlaceOfTheDesktopSocketNeverReachesAnotherDesktop) {
  Api dora = MakeUser(*broker_, kUser, "user");
  Api eve = MakeUser(*broker_, "moat-e2e-eve", "user");
  auto victim = MustConnect(kUser, kPassword);
  ASSERT_TRUE(victim);
  std::string victim_id = SessionIdOf(*victim);
  ASSERT_FALSE(victim_id.empty());

  Reply created = eve.Call("POST", "/api/v1/sessions", Json::object());
  ASSERT_EQ(created.status, 201) << created.raw;
  std::string id = created.body["id"];
  const std::string victim_socket =
      broker_->run_dir() + "/sessions/" + victim_id + "/display/rfb.sock";
  ASSERT_TRUE(std::filesystem::exists(victim_socket)) << victim_socket;
  // Keeps Xvnc's socket under a second name, then puts a link and the socket in turn.
  const std::string swap =
      "cd /run/moat/display && ln -f rfb.sock real.sock && while :; do ln -sfn '" + victim_socket +
      "' link && mv -fT link rfb.sock; ln -f real.sock sock && mv -fT sock " + "rfb.sock; done";
  Reply app =
      eve.Call("POST", "/api/v1/sessions/" + id + "/apps", {{"argv", {"/bin/sh", "-c", swap}}});
  ASSERT_EQ(app.status, 201) << app.raw;

  int own = 0, refused = 0;
  for (int attempt = 0; attempt < 30; ++attempt) {
    auto client = Connect("moat-e2e-eve/" + id, "pw-moat-e2e-eve-secret");
    if (!client) {
      ++refused;
      continue;
    }
    ASSERT_NE(SessionIdOf(*client), victim_id)
        << "attempt " << attempt << " relayed the other user's desktop";
    EXPECT_EQ(SessionIdOf(*client), id);
    ++own;
  }
  std::printf("[ figures  ] 30 logins while the socket was swapped: %d own desktop, %d refused\n",
              own, refused);
  EXPECT_GT(refused, 0) << "the link was never in place: the attack did not run";
  EXPECT_FALSE(victim->ClosedWithin(milliseconds(200))) << "the victim's viewer was dropped";
  EXPECT_EQ(eve.Call("POST", "/api/v1/sessions/" + id + "/end").status, 200);
  EXPECT_EQ(dora.Call("POST", "/api/v1/sessions/" + victim_id + "/end").status, 200);
}

// TigerVNC's own viewer, as users run it: VeNCrypt X509Plain against the broker's CA, the
// username and password from its environment. Its window, on a virtual X server, must show
// the session's xterm.
TEST_F(DisplayGateway, TigerVncViewerShowsTheDesktop) {
  for (const char* program : {"/usr/bin/vncviewer", "/usr/bin/Xvfb"}) {
    if (::access(program, X_OK) != 0)
      GTEST_SKIP() << program << " missing (scripts/install-deps.sh)";
  }
  Api dora = MakeUser(*broker_, kUser, "user");
  std::string dir = broker_->state_dir() + "/viewer";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/ca.crt") << broker_->ca_pem();

  Child xvfb{test::SpawnLogged({"/usr/bin/Xvfb", "-displayfd", "1", "-screen", "0", "1400x900x24",
                                "-fbdir", dir, "-nolisten", "tcp"},
                               dir + "/display", dir + "/xvfb.log")};
  std::string display;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::ifstream in(dir + "/display");
        return static_cast<bool>(in >> display);
      },
      10))
      << "Xvfb did not start";
  Child viewer{test::SpawnLogged(
      {"/usr/bin/env", "DISPLAY=:" + display, "VNC_USERNAME=" + std::string(kUser),
       "VNC_PASSWORD=" + std::string(kPassword), "/usr/bin/vncviewer", "-X509CA", dir + "/ca.crt",
       "-SecurityTypes", "X509Plain", "127.0.0.1::" + std::to_string(broker_->display_port())},
      dir + "/viewer.log", dir + "/viewer.log")};

  size_t white = 0;
  bool shown = WaitFor(
      [&] {
        white = WhiteInXwd(dir + "/Xvfb_screen0");
        return white > 50000;
      },
      20);
  std::ifstream log_file(dir + "/viewer.log");
  std::string viewer_log((std::istreambuf_iterator<char>(log_file)),
                         std::istreambuf_iterator<char>());
  EXPECT_TRUE(shown) << "vncviewer's window never showed the xterm (" << white << " white pixels)\n"
                     << viewer_log;
  EXPECT_NE(viewer_log.find("X509Plain"), std::string::npos) << viewer_log;

  Reply sessions = dora.Call("GET", "/api/v1/sessions?state=active");
  ASSERT_EQ(sessions.status, 200);
  ASSERT_EQ(sessions.body["sessions"].size(), 1u) << sessions.raw;
  std::string id = sessions.body["sessions"][0]["id"];
  ASSERT_EQ(dora.Call("POST", "/api/v1/sessions/" + id + "/end").status, 200);
}

// A policy may forbid takeover: the second login is refused with the reason, the first stays.
TEST_F(DisplayGateway, APolicyCanRefuseTakeover) {
  Api dora = MakeUser(*broker_, kUser, "user");
  Api admin = AdminApi(*broker_);
  ASSERT_EQ(admin
                .Call("PUT", "/api/v1/policies",
                      {{"scope", "user"},
                       {"subject", kUser},
                       {"key", "display_takeover"},
                       {"value", false}})
                .status,
            204);
  EXPECT_EQ(
      admin
          .Call(
              "PUT", "/api/v1/policies",
              {{"scope", "user"}, {"subject", kUser}, {"key", "display_takeover"}, {"value", "no"}})
          .status,
      400);
  auto first = MustConnect(kUser, kPassword);
  ASSERT_TRUE(first);
  std::string id = SessionIdOf(*first);
  ASSERT_TRUE(AwaitXterm(*first));
  auto second = Connect(kUser, kPassword);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message().find("forbids taking it over"), std::string::npos)
      << second.error().message();
  EXPECT_FALSE(first->ClosedWithin(milliseconds(1000))) << "the first client was dropped";
  EXPECT_TRUE(AwaitXterm(*first));
  admin.Call("DELETE", "/api/v1/policies",
             {{"scope", "user"}, {"subject", kUser}, {"key", "display_takeover"}});
  ASSERT_EQ(dora.Call("POST", "/api/v1/sessions/" + id + "/end").status, 200);
}

// A desktop on another host: its agent opens a tunnel back to the broker's agent port (mutual
// TLS, a one-time ticket) and the gateway relays through it, typing included.
TEST_F(DisplayGateway, ADesktopOnAnotherHostIsRelayedThroughItsAgent) {
  Api dora = MakeUser(*broker_, kUser, "user");
  Api admin = AdminApi(*broker_);
  Reply token = admin.Call("POST", "/api/v1/hosts/tokens", Json::object({{"ttl_s", 600}}));
  ASSERT_EQ(token.status, 201) << token.raw;
  ExtraAgent second(*broker_, "e2e-display-remote", token.body["agent_token"]);
  ASSERT_TRUE(WaitFor(
      [&] {
        Reply hosts = admin.Call("GET", "/api/v1/hosts");
        for (const auto& host : hosts.body["hosts"]) {
          if (host["name"] == "e2e-display-remote" && host["connected"] == true) return true;
        }
        return false;
      },
      30))
      << second.log();
  ASSERT_EQ(admin.Call("POST", "/api/v1/hosts/e2e-local/drain").status, 200);

  auto client = MustConnect(kUser, kPassword);
  ASSERT_EQ(admin.Call("POST", "/api/v1/hosts/e2e-local/undrain").status, 200);
  ASSERT_TRUE(client) << second.log();
  std::string id = SessionIdOf(*client);
  Reply session = dora.Call("GET", "/api/v1/sessions/" + id);
  EXPECT_EQ(session.body.value("host", ""), "e2e-display-remote") << session.raw;
  EXPECT_TRUE(std::filesystem::exists(second.run_dir() + "/sessions/" + id + "/display/rfb.sock"));
  auto frame = AwaitXterm(*client);
  ASSERT_TRUE(frame) << "the remote desktop never showed its xterm\n" << second.log();
  std::string marker = "/home/" + std::string(kUser) + "/remote-marker";
  std::filesystem::remove(marker);
  TypeIntoXterm(*client, *frame, "echo through-the-tunnel > ~/remote-marker\n");
  EXPECT_TRUE(WaitFor([&] { return std::filesystem::exists(marker); }, 10));

  // Disconnect and come back, through a new tunnel.
  client.reset();
  EXPECT_TRUE(WaitFor([&] { return StateOf(dora, id) == "disconnected"; }, 10));
  auto again = MustConnect(kUser, kPassword);
  ASSERT_TRUE(again);
  EXPECT_EQ(SessionIdOf(*again), id);
  EXPECT_TRUE(AwaitXterm(*again));
  ASSERT_EQ(dora.Call("POST", "/api/v1/sessions/" + id + "/end").status, 200);
  EXPECT_TRUE(again->ClosedWithin(milliseconds(5000)));
}

// Idle time comes from input through the gateway: a viewer that moves the mouse keeps the session
// alive past the idle timeout; once input stops, the timeout ends it.
TEST_F(DisplayGateway, TheIdleTimeoutActsOnInputThroughTheGateway) {
  Api dora = MakeUser(*broker_, kUser, "user");
  Api admin = AdminApi(*broker_);
  auto client = MustConnect(kUser, kPassword);
  ASSERT_TRUE(client);
  std::string id = SessionIdOf(*client);
  ASSERT_TRUE(AwaitXterm(*client));
  // Input is reported every 5 s per connection; the broker checks timeouts every 10 s.
  ASSERT_EQ(
      admin
          .Call("PUT", "/api/v1/policies",
                {{"scope", "user"}, {"subject", kUser}, {"key", "idle_timeout_s"}, {"value", 8}})
          .status,
      204);
  auto busy_until = std::chrono::steady_clock::now() + std::chrono::seconds(16);
  for (uint16_t step = 0; std::chrono::steady_clock::now() < busy_until; ++step) {
    ASSERT_TRUE(client->Pointer(static_cast<uint16_t>(100 + step % 200), 100, 0));
    std::this_thread::sleep_for(milliseconds(500));
  }
  EXPECT_EQ(StateOf(dora, id), "active") << "a session with input was ended as idle";
  EXPECT_TRUE(WaitFor([&] { return StateOf(dora, id) == "ended"; }, 40))
      << "no input, and the idle timeout did not end the session: " << StateOf(dora, id);
  Reply audit = admin.Call("GET", "/api/v1/audit?kind=session.state&session=" + id);
  EXPECT_NE(audit.raw.find("idle timeout"), std::string::npos) << audit.raw;
  admin.Call("DELETE", "/api/v1/policies",
             {{"scope", "user"}, {"subject", kUser}, {"key", "idle_timeout_s"}});
}

// The desktop's size and depth: from the create request, else from the policy; bad values are
// refused before anything starts.
TEST_F(DisplayGateway, GeometryComesFromTheRequestOrThePolicy) {
  Api dora = MakeUser(*broker_, kUser, "user");
  Api admin = AdminApi(*broker_);
  auto size_of = [&](const std::string& id) {
    auto client = RfbTestClient::Connect(
        broker_->run_dir() + "/sessions/" + id + "/display/rfb.sock", milliseconds(10000));
    return client ? std::to_string(client->width()) + "x" + std::to_string(client->height())
                  : client.error().message();
  };
  Reply asked = dora.Call("POST", "/api/v1/sessions", {{"geometry", "1024x768"}, {"depth", 16}});
  ASSERT_EQ(asked.status, 201) << asked.raw;
  EXPECT_EQ(size_of(asked.body["id"]), "1024x768");
  ASSERT_EQ(
      dora.Call("POST", "/api/v1/sessions/" + asked.body["id"].get<std::string>() + "/end").status,
      200);

  std::string before = DatabaseSnapshot(broker_->database());
  for (const Json& bad : {Json{{"geometry", "10x10"}}, Json{{"geometry", "wide"}},
                          Json{{"depth", 8}}, Json{{"geometry", 1024}}}) {
    Reply refused = dora.Call("POST", "/api/v1/sessions", bad);
    EXPECT_EQ(refused.status, 400) << bad.dump() << " " << refused.raw;
  }
  EXPECT_EQ(DatabaseSnapshot(broker_->database()), before) << "a refused create changed rows";
  EXPECT_EQ(admin
                .Call("PUT", "/api/v1/policies",
                      {{"scope", "user"},
                       {"subject", kUser},
                       {"key", "desktop_geometry"},
                       {"value", "9000x10"}})
                .status,
            400);

  ASSERT_EQ(admin
                .Call("PUT", "/api/v1/policies",
                      {{"scope", "user"},
                       {"subject", kUser},
                       {"key", "desktop_geometry"},
                       {"value", "800x600"}})
                .status,
            204);
  Reply from_policy = dora.Call("POST", "/api/v1/sessions", Json::object());
  ASSERT_EQ(from_policy.status, 201) << from_policy.raw;
  EXPECT_EQ(size_of(from_policy.body["id"]), "800x600");
  dora.Call("POST", "/api/v1/sessions/" + from_policy.body["id"].get<std::string>() + "/end");
  admin.Call("DELETE", "/api/v1/policies",
             {{"scope", "user"}, {"subject", kUser}, {"key", "desktop_geometry"}});
}

TEST_F(DisplayGateway, TheBrowserEndpointChecksItsTokenAndSessionBeforeUpgrading) {
  Api dora = MakeUser(*broker_, kUser, "user");
  Api anyone(*broker_);
  std::vector<std::pair<std::string, std::string>> upgrade = {
      {"Connection", "Upgrade"},
      {"Upgrade", "websocket"},
      {"Sec-WebSocket-Version", "13"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  EXPECT_EQ(anyone.CallRaw("GET", "/api/v1/display?session=x", "").status, 426);
  EXPECT_EQ(anyone.CallRaw("GET", "/api/v1/display?session=x", "", upgrade).status, 401);
  std::string token = dora.token();
  EXPECT_EQ(anyone.CallRaw("GET", "/api/v1/display?token=" + token, "", upgrade).status, 400);
  EXPECT_EQ(
      anyone.CallRaw("GET", "/api/v1/display?session=nope&token=" + token, "", upgrade).status,
      404);
  EXPECT_EQ(
      anyone.CallRaw("GET", "/api/v1/display?session=nope&mode=steal&token=" + token, "", upgrade)
          .status,
      400);
}

}  // namespace
}  // namespace moat::e2e
