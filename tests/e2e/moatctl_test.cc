// moatctl end to end: the real binary, with HOME in a temporary directory, against a real
// broker with its real local agent. Checks what an admin types and what a script relies on:
// the tables, the --json documents, and the exit codes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "broker_harness.h"
#include "moat/common/testing/temp_dir.h"
#include "test_support.h"

namespace moat::e2e {
namespace {

class Moatctl : public SharedBrokerTest {
 protected:
  void SetUp() override {
    ca_file_ = (home_.path() / "ca.crt").string();
    WriteFile(ca_file_, broker_->ca_pem());
  }

  std::string home() const { return home_.path().string(); }
  std::string ConfigFile() const { return home() + "/.config/moat/moatctl.json"; }

  // env HOME=… moatctl ARGS…, with the MOAT_* variables of this process out of the way.
  std::vector<std::string> CtlArgv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"/usr/bin/env", "-u", "MOAT_BROKER", "-u",
                                     "MOAT_TOKEN",   "-u", "MOAT_CA",     "HOME=" + home(),
                                     MOAT_CTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  test::CommandResult Ctl(const std::vector<std::string>& args, int timeout_s = 120) const {
    return test::RunCommand(CtlArgv(args), timeout_s);
  }
  // The same, with stdin from `stdin_file` (RunCommand gives /dev/null).
  test::CommandResult CtlWithStdin(const std::vector<std::string>& args,
                                   const std::string& stdin_file) const {
    std::string line;
    for (const auto& arg : CtlArgv(args)) line += "'" + arg + "' ";
    return test::RunCommand({"/bin/sh", "-c", "exec " + line + "< '" + stdin_file + "'"}, 120);
  }

  static void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
  }

  // Logs the admin in; later commands need no flags.
  void LoginAdmin() {
    std::string password_file = home() + "/password";
    WriteFile(password_file, broker_->admin_password() + "\n");
    auto login = CtlWithStdin(
        {"--broker", broker_->url(), "--ca", ca_file_, "login", "admin", "--password-stdin"},
        password_file);
    ASSERT_EQ(login.exit_code, 0) << login.out << login.err;
  }

  static Json ParseJson(const test::CommandResult& result) {
    Json json = Json::parse(result.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(json.is_discarded()) << "not JSON: " << result.out << result.err;
    return json;
  }

  moat::testing::TempDir home_{"moatctl-home"};
  std::string ca_file_;
};

// Ends a session on scope exit, whatever the test did: no session outlives its test.
class SessionGuard {
 public:
  SessionGuard(const BrokerProcess& broker, std::string id) : broker_(broker), id_(std::move(id)) {}
  ~SessionGuard() {
    if (id_.empty()) return;
    Api admin = AdminApi(broker_);
    admin.Call("POST", "/api/v1/sessions/" + id_ + "/end");
  }

 private:
  const BrokerProcess& broker_;
  std::string id_;
};

TEST_F(Moatctl, LoginWithPasswordStdinSavesTokenMode0600) {
  LoginAdmin();
  struct stat info {};
  ASSERT_EQ(::stat(ConfigFile().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  Json saved = Json::parse(test::ReadFile(ConfigFile()), nullptr, false);
  ASSERT_TRUE(saved.is_object());
  EXPECT_EQ(saved["broker"], broker_->url());
  EXPECT_EQ(saved["ca"], ca_file_);
  EXPECT_FALSE(saved["token"].get<std::string>().empty());

  // The saved settings serve later commands: no flags needed.
  auto users = Ctl({"users", "ls"});
  ASSERT_EQ(users.exit_code, 0) << users.err;
  EXPECT_EQ(users.out.rfind("NAME", 0), 0u) << users.out;
  EXPECT_NE(users.out.find("admin"), std::string::npos) << users.out;

  // A wrong password is 3, and the saved token stays.
  std::string wrong = home() + "/wrong";
  WriteFile(wrong, "not-the-password\n");
  auto refused = CtlWithStdin({"login", "admin", "--password-stdin"}, wrong);
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_EQ(Json::parse(test::ReadFile(ConfigFile()))["token"], saved["token"]);

  // Logout ends the token at the broker and forgets it here.
  auto logout = Ctl({"logout"});
  EXPECT_EQ(logout.exit_code, 0) << logout.err;
  EXPECT_EQ(Json::parse(test::ReadFile(ConfigFile()))["token"], "");
  auto after = Ctl({"--token", saved["token"], "users", "ls"});
  EXPECT_EQ(after.exit_code, 3) << after.out << after.err;
}

TEST_F(Moatctl, SessionCreateListShowLimitSuspendResumeAppsEnd) {
  LoginAdmin();
  test::EnsureUser("moat-e2e-ctl-erin");
  Api admin = AdminApi(*broker_);
  admin.Call("POST", "/api/v1/users",
             {{"name", "moat-e2e-ctl-erin"}, {"password", "pw-erin-secret"}, {"role", "user"}});

  auto created = Ctl({"--json", "sessions", "create", "--user", "moat-e2e-ctl-erin", "--no-desktop",
                      "--limit", "pids_max=200"});
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err << broker_->log();
  Json session = ParseJson(created);
  std::string id = session.value("id", "");
  ASSERT_FALSE(id.empty()) << created.out;
  SessionGuard guard(*broker_, id);
  EXPECT_EQ(session["state"], "active");
  EXPECT_EQ(session["limits"]["pids_max"], 200);

  auto listed = Ctl({"sessions", "ls"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out.rfind("ID", 0), 0u) << listed.out;
  for (const char* header : {"USER", "HOST", "STATE", "BACKEND", "CPU%", "MEM", "AGE"}) {
    EXPECT_NE(listed.out.find(header), std::string::npos) << header << "\n" << listed.out;
  }
  EXPECT_NE(listed.out.find(id), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("moat-e2e-ctl-erin"), std::string::npos) << listed.out;
  auto listed_json = Ctl({"--json", "sessions", "ls", "--user", "moat-e2e-ctl-erin"});
  ASSERT_EQ(listed_json.exit_code, 0) << listed_json.err;
  Json sessions = ParseJson(listed_json)["sessions"];
  ASSERT_EQ(sessions.size(), 1u) << listed_json.out;
  EXPECT_EQ(sessions[0]["id"], id);

  auto limited = Ctl({"sessions", "limit", id, "cpu_percent=30", "memory_max=512M"});
  ASSERT_EQ(limited.exit_code, 0) << limited.out << limited.err;
  auto shown = Ctl({"sessions", "show", id});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("state:"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("active"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("cpu_percent=30"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("memory_max=512M"), std::string::npos) << shown.out;
  Json shown_json = ParseJson(Ctl({"--json", "sessions", "show", id}));
  EXPECT_EQ(shown_json["limits"]["memory_max"], 512 << 20) << shown_json.dump();
  EXPECT_EQ(shown_json["limits"]["cpu_percent"], 30) << shown_json.dump();

  auto suspended = Ctl({"sessions", "suspend", id});
  ASSERT_EQ(suspended.exit_code, 0) << suspended.err;
  EXPECT_EQ(suspended.out, id + ": suspended\n");
  auto resumed = Ctl({"sessions", "resume", id});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(resumed.out, id + ": active\n");

  // An application: launched, listed, killed.
  auto launched = Ctl({"--json", "apps", "launch", id, "--", "/bin/sleep", "300"});
  ASSERT_EQ(launched.exit_code, 0) << launched.out << launched.err;
  int64_t pid = ParseJson(launched).value("pid", int64_t{0});
  ASSERT_GT(pid, 1) << launched.out;
  auto ps = Ctl({"apps", "ps", id});
  ASSERT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_EQ(ps.out.rfind("PID", 0), 0u) << ps.out;
  EXPECT_NE(ps.out.find("sleep"), std::string::npos) << ps.out;
  auto killed = Ctl({"apps", "kill", id, std::to_string(pid), "--signal", "KILL"});
  EXPECT_EQ(killed.exit_code, 0) << killed.out << killed.err;
  EXPECT_TRUE(WaitFor([&] {
    Json now = ParseJson(Ctl({"--json", "apps", "ps", id}));
    for (const auto& p : now.value("processes", Json::array())) {
      if (p["pid"] == pid) return false;
    }
    return true;
  }));

  auto ended = Ctl({"sessions", "end", id});
  ASSERT_EQ(ended.exit_code, 0) << ended.err;
  EXPECT_EQ(ended.out, id + ": ended\n");
  // Ended sessions leave the default listing and stay under --all.
  EXPECT_EQ(Ctl({"sessions", "ls"}).out.find(id), std::string::npos);
  EXPECT_NE(Ctl({"sessions", "ls", "--all"}).out.find(id), std::string::npos);
}

TEST_F(Moatctl, HostsListDrainUndrainToken) {
  LoginAdmin();
  auto listed = Ctl({"hosts", "ls"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out.rfind("NAME", 0), 0u) << listed.out;
  EXPECT_NE(listed.out.find("e2e-local"), std::string::npos) << listed.out;

  auto drained = Ctl({"hosts", "drain", "e2e-local"});
  ASSERT_EQ(drained.exit_code, 0) << drained.err;
  EXPECT_EQ(drained.out, "e2e-local: drained\n");
  Json hosts = ParseJson(Ctl({"--json", "hosts", "ls"}));
  ASSERT_EQ(hosts["hosts"].size(), 1u) << hosts.dump();
  EXPECT_EQ(hosts["hosts"][0]["drained"], true);
  // Drained: no session can be placed (503 from the broker: exit 6).
  EXPECT_EQ(Ctl({"sessions", "create", "--no-desktop"}).exit_code, 6);
  auto undrained = Ctl({"hosts", "undrain", "e2e-local"});
  ASSERT_EQ(undrained.exit_code, 0) << undrained.err;
  EXPECT_EQ(undrained.out, "e2e-local: taking sessions\n");
  EXPECT_EQ(ParseJson(Ctl({"--json", "hosts", "ls"}))["hosts"][0]["drained"], false);
  EXPECT_EQ(Ctl({"hosts", "drain", "no-such-host"}).exit_code, 5);

  auto token = Ctl({"hosts", "token", "--ttl", "600"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  EXPECT_NE(token.out.find("agent_token:"), std::string::npos) << token.out;
  EXPECT_NE(token.out.find("moat-agent --broker " + broker_->url() + " --token "),
            std::string::npos)
      << token.out;
  Json issued = ParseJson(Ctl({"--json", "hosts", "token"}));
  EXPECT_NE(issued.value("agent_token", "").find('.'), std::string::npos) << issued.dump();
}

TEST_F(Moatctl, UsersAddAndRole) {
  LoginAdmin();
  std::string password_file = home() + "/dave";
  WriteFile(password_file, "pw-dave-secret\n");
  auto added = CtlWithStdin(
      {"users", "add", "moat-e2e-ctl-dave", "--role", "user", "--password-stdin"}, password_file);
  ASSERT_EQ(added.exit_code, 0) << added.out << added.err;
  EXPECT_NE(added.out.find("role:"), std::string::npos) << added.out;
  auto again =
      CtlWithStdin({"users", "add", "moat-e2e-ctl-dave", "--password-stdin"}, password_file);
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;  // 409: the name is taken

  auto role = Ctl({"users", "role", "moat-e2e-ctl-dave", "operator"});
  ASSERT_EQ(role.exit_code, 0) << role.err;
  EXPECT_NE(role.out.find("operator"), std::string::npos) << role.out;
  Json users = ParseJson(Ctl({"--json", "users", "ls"}));
  bool found = false;
  for (const auto& user : users["users"]) {
    if (user["name"] == "moat-e2e-ctl-dave") found = user["role"] == "operator";
  }
  EXPECT_TRUE(found) << users.dump();
  EXPECT_EQ(Ctl({"users", "role", "moat-e2e-ctl-dave", "superuser"}).exit_code, 2);
  EXPECT_EQ(Ctl({"users", "role", "moat-e2e-ctl-nobody", "user"}).exit_code, 5);

  // The operator may not add users: 403 is 4.
  std::string operator_home = home() + "/operator";
  std::filesystem::create_directories(operator_home);
  auto as_operator =
      test::RunCommand({"/bin/sh", "-c",
                        "/usr/bin/env HOME='" + operator_home + "' '" + MOAT_CTL_BIN +
                            "' --broker '" + broker_->url() + "' --ca '" + ca_file_ +
                            "' login moat-e2e-ctl-dave --password-stdin < '" + password_file +
                            "' && exec " + "/usr/bin/env HOME='" + operator_home + "' '" +
                            MOAT_CTL_BIN + "' users add moat-e2e-ctl-x --pam"});
  EXPECT_EQ(as_operator.exit_code, 4) << as_operator.out << as_operator.err;
}

TEST_F(Moatctl, SqlSelectPrintsTableAndWriteIsRefused) {
  LoginAdmin();
  auto select = Ctl({"sql", "SELECT name, role FROM v_users WHERE name = 'admin'"});
  ASSERT_EQ(select.exit_code, 0) << select.err;
  auto lines = select.out;
  EXPECT_EQ(lines.rfind("name   role", 0), 0u) << select.out;
  EXPECT_NE(lines.find("\nadmin  admin\n"), std::string::npos) << select.out;

  Json json = ParseJson(Ctl({"--json", "sql", "SELECT name FROM v_users ORDER BY name"}));
  EXPECT_EQ(json["columns"], Json::array({"name"}));
  EXPECT_FALSE(json["rows"].empty());

  // Every view the help names exists.
  auto help = Ctl({"sql", "--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  Json views =
      ParseJson(Ctl({"--json", "sql", "SELECT name FROM sqlite_master WHERE type = 'view'"}));
  std::set<std::string> known;
  for (const auto& row : views["rows"]) known.insert(row[0].get<std::string>());
  std::regex view_name("v_[a-z_]+");
  int named = 0;
  for (std::sregex_iterator it(help.out.begin(), help.out.end(), view_name), end; it != end; ++it) {
    EXPECT_TRUE(known.count(it->str())) << it->str() << " in moatctl sql --help is no view";
    ++named;
  }
  EXPECT_GT(named, 0) << help.out;

  // Text that is not UTF-8 comes back with U+FFFD in its place, not as a failure.
  auto bytes = Ctl({"--json", "sql", "SELECT CAST(x'41ff42' AS TEXT) AS t"});
  ASSERT_EQ(bytes.exit_code, 0) << bytes.out << bytes.err;
  EXPECT_EQ(ParseJson(bytes)["rows"][0][0],
            "A\xEF\xBF\xBD"
            "B")
      << bytes.out;

  auto write = Ctl({"sql", "DELETE FROM sessions"});
  EXPECT_EQ(write.exit_code, 4) << write.out << write.err;  // the broker answers 403
  EXPECT_EQ(write.err.rfind("moatctl: ", 0), 0u) << write.err;
  EXPECT_NE(write.err.find("read-only"), std::string::npos) << write.err;
  EXPECT_EQ(Ctl({"sql", "SELEKT 1"}).exit_code, 1);  // 400: SQLite cannot parse it
}

TEST_F(Moatctl, ExitCodesScriptsCanTrust) {
  // Not logged in (no saved token): 3.
  auto anonymous = Ctl({"--broker", broker_->url(), "--ca", ca_file_, "sessions", "ls"});
  EXPECT_EQ(anonymous.exit_code, 3) << anonymous.out << anonymous.err;
  // A token the broker does not know: 3.
  auto bad_token =
      Ctl({"--broker", broker_->url(), "--ca", ca_file_, "--token", "nonsense", "sessions", "ls"});
  EXPECT_EQ(bad_token.exit_code, 3) << bad_token.out << bad_token.err;
  EXPECT_EQ(bad_token.err.rfind("moatctl: ", 0), 0u) << bad_token.err;
  // The event stream: a token it does not know is 3, a valid one of a role that may not watch 4.
  auto bad_watch =
      Ctl({"--broker", broker_->url(), "--ca", ca_file_, "--token", "nonsense", "watch"}, 30);
  EXPECT_EQ(bad_watch.exit_code, 3) << bad_watch.out << bad_watch.err;
  std::string user_token = MakeUser(*broker_, "moat-e2e-ctl-viewer", "user").token();
  auto user_watch =
      Ctl({"--broker", broker_->url(), "--ca", ca_file_, "--token", user_token, "watch"}, 30);
  EXPECT_EQ(user_watch.exit_code, 4) << user_watch.out << user_watch.err;

  LoginAdmin();
  // Unknown session: 5.
  auto missing = Ctl({"sessions", "show", "s-does-not-exist"});
  EXPECT_EQ(missing.exit_code, 5) << missing.out << missing.err;
  EXPECT_NE(missing.err.find("s-does-not-exist"), std::string::npos) << missing.err;
  EXPECT_EQ(Ctl({"sessions", "end", "s-does-not-exist"}).exit_code, 5);
  // A desktop size the broker would refuse is a usage error before any request: 2.
  auto small = Ctl({"sessions", "create", "--geometry", "10x10"});
  EXPECT_EQ(small.exit_code, 2) << small.out << small.err;
  EXPECT_NE(small.err.find("320..8192"), std::string::npos) << small.err;
  EXPECT_EQ(Ctl({"sessions", "create", "--depth", "8"}).exit_code, 2);

  // Usage errors: 2, before anything is sent.
  EXPECT_EQ(Ctl({"sessions", "ls", "--bogus"}).exit_code, 2);
  EXPECT_EQ(Ctl({"sessions"}).exit_code, 2);
  EXPECT_EQ(Ctl({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Ctl({"sessions", "show"}).exit_code, 2);
  EXPECT_EQ(Ctl({"sessions", "limit", "s-x", "cpu_percent=0"}).exit_code, 2);
  EXPECT_EQ(Ctl({"sessions", "limit", "s-x", "memory_max=lots"}).exit_code, 2);
  EXPECT_EQ(Ctl({"sessions", "limit", "s-x", "colour=blue"}).exit_code, 2);
  EXPECT_EQ(Ctl({"sessions", "ls", "--limit", "0"}).exit_code, 2);
  EXPECT_EQ(Ctl({"apps", "launch", "s-x"}).exit_code, 2);
  EXPECT_EQ(Ctl({"watch", "--types", "weather"}).exit_code, 2);
  auto no_ca = Ctl({"--ca", home() + "/missing.crt", "sessions", "ls"});
  EXPECT_EQ(no_ca.exit_code, 2) << no_ca.err;

  // Nothing listens there: 6.
  uint16_t port = FreePort();
  auto unreachable = Ctl({"--broker", "https://127.0.0.1:" + std::to_string(port), "--ca", ca_file_,
                          "--token", "x", "sessions", "ls"});
  EXPECT_EQ(unreachable.exit_code, 6) << unreachable.out << unreachable.err;
  // A broker whose certificate the given CA did not issue: a TLS failure, 6 too.
  const std::string other_ca = "/etc/ssl/certs/ca-certificates.crt";
  if (std::filesystem::exists(other_ca)) {
    auto untrusted =
        Ctl({"--broker", broker_->url(), "--ca", other_ca, "--token", "x", "sessions", "ls"});
    EXPECT_EQ(untrusted.exit_code, 6) << untrusted.out << untrusted.err;
  }

  // --help is no error, for every group.
  for (const char* group : {"sessions", "apps", "hosts", "users", "watch", "sql", "login"}) {
    auto help = Ctl({group, "--help"});
    EXPECT_EQ(help.exit_code, 0) << group << ": " << help.err;
    EXPECT_EQ(help.out.rfind("usage: moatctl", 0), 0u) << group << ": " << help.out;
  }
  auto help = Ctl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("exit codes"), std::string::npos) << help.out;
}

TEST_F(Moatctl, WatchPrintsSessionStateEvents) {
  LoginAdmin();
  test::EnsureUser("moat-e2e-ctl-erin");
  AdminApi(*broker_).Call(
      "POST", "/api/v1/users",
      {{"name", "moat-e2e-ctl-erin"}, {"password", "pw-erin-secret"}, {"role", "user"}});
  // The token's first use records last_used_at; done here, not by two watchers at once (see
  // the report on TokenStore::Validate racing itself).
  ASSERT_EQ(Ctl({"users", "ls"}).exit_code, 0);
  // Two watchers, a person's (session.state only) and a script's (--json, every type), each
  // stopped by SIGINT after 10 s; --preserve-status: their own exit code counts.
  struct Watcher {
    std::string err_file;
    test::CommandResult result;
    std::thread thread;
  };
  auto start = [&](Watcher& w, const std::vector<std::string>& args, const std::string& name) {
    w.err_file = home() + "/" + name + ".err";
    std::string line;
    for (const auto& arg : CtlArgv(args)) line += "'" + arg + "' ";
    w.thread = std::thread([&w, line] {
      w.result = test::RunCommand(
          {"/bin/sh", "-c",
           "exec timeout --preserve-status -s INT 10 " + line + "2> '" + w.err_file + "'"},
          30);
    });
  };
  Watcher human, script;
  start(human, {"watch", "--types", "session.state"}, "human");
  start(script, {"--json", "watch"}, "script");
  // Subscribed once it says so: from then on no event is missed.
  bool ready = WaitFor(
      [&] {
        return test::ReadFile(human.err_file).find("watching") != std::string::npos &&
               test::ReadFile(script.err_file).find("watching") != std::string::npos;
      },
      10);
  std::string id;
  if (ready) {
    auto created =
        Ctl({"--json", "sessions", "create", "--user", "moat-e2e-ctl-erin", "--no-desktop"});
    EXPECT_EQ(created.exit_code, 0) << created.out << created.err;
    Json session = Json::parse(created.out, nullptr, false);
    if (session.is_object()) id = session.value("id", "");
  }
  SessionGuard guard(*broker_, id);
  if (!id.empty()) {
    EXPECT_EQ(Ctl({"sessions", "end", id}).exit_code, 0);
  }
  human.thread.join();
  script.thread.join();
  ASSERT_TRUE(ready) << test::ReadFile(human.err_file) << test::ReadFile(script.err_file);
  ASSERT_FALSE(id.empty());

  EXPECT_EQ(human.result.exit_code, 0) << test::ReadFile(human.err_file);
  EXPECT_NE(human.result.out.find("session.state " + id), std::string::npos) << human.result.out;
  EXPECT_NE(human.result.out.find("starting -> active"), std::string::npos) << human.result.out;
  EXPECT_NE(human.result.out.find("ending -> ended"), std::string::npos) << human.result.out;
  EXPECT_EQ(human.result.out.find(" usage "), std::string::npos) << human.result.out;

  EXPECT_EQ(script.result.exit_code, 0) << test::ReadFile(script.err_file);
  std::vector<std::string> transitions;
  std::istringstream lines(script.result.out);
  for (std::string event_line; std::getline(lines, event_line);) {
    Json event = Json::parse(event_line, nullptr, false);
    ASSERT_TRUE(event.is_object()) << "not one JSON document per line: " << event_line;
    if (event["type"] == "session.state" && event["session"]["id"] == id) {
      std::string from = event["from"].is_string() ? event["from"].get<std::string>() : "";
      transitions.push_back(from + ">" + event["to"].get<std::string>());
    }
  }
  // The first event of a session comes from nowhere: "from" is null.
  std::vector<std::string> expected = {">starting", "starting>active", "active>ending",
                                       "ending>ended"};
  EXPECT_EQ(transitions, expected) << script.result.out;
}

}  // namespace
}  // namespace moat::e2e
