// SPDX-License-Identifier: GPL-3.0-or-later
// The console against a real moat-broker with its real local agent (tests/e2e/broker_harness),
// through the console's own classes: BrokerClient logs in over TLS pinned by trust on first
// use, LiveUpdates fills the models from the real event stream. Sessions made through the API
// must show within 2 s; a throttle sent by the console must change the session's cgroup; suspend
// and end must be reflected; an auditor's console can change nothing; a changed CA is refused;
// a restarted broker is reconnected to.
#include <gtest/gtest.h>

#include <QAction>
#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QSettings>
#include <QSslCertificate>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <filesystem>
#include <optional>

#include "broker_harness.h"
#include "client/brokerclient.h"
#include "client/feed.h"
#include "models/liveupdates.h"
#include "test_support.h"
#include "ui/mainwindow.h"
#include "ui/sessiondetail.h"
#include "ui/sessionsview.h"

namespace moat::console {
namespace {

using e2e::Api;
using e2e::BrokerProcess;
using e2e::Json;
using e2e::Reply;
using e2e::SessionCgroupFile;
using e2e::SharedBrokerTest;

// A console: client, models and settings of its own.
struct Console {
  QTemporaryDir dir;
  QSettings settings{dir.filePath(QStringLiteral("console.ini")), QSettings::IniFormat};
  TrustedCa trust{&settings};
  BrokerClient client{&trust};
  LiveUpdates live;
  QString prompted;  // the fingerprint the trust prompt was shown

  Console() {
    Feed(&client, &live);
    client.SetTrustPrompt([this](const QUrl&, const QString& fingerprint) {
      prompted = fingerprint;
      return true;
    });
  }
  bool ConnectAs(const BrokerProcess& broker, const std::string& user,
                 const std::string& password) {
    client.Connect(QUrl(QString::fromStdString(broker.url())), QString::fromStdString(user),
                   QString::fromStdString(password));
    return QTest::qWaitFor([&] { return client.state() == BrokerClient::State::kConnected; },
                           20000);
  }
  // Runs the event loop until the call answers.
  BrokerClient::Reply Wait(const std::function<void(BrokerClient::Done)>& call) {
    std::optional<BrokerClient::Reply> reply;
    call([&](const BrokerClient::Reply& answer) { reply = answer; });
    (void)QTest::qWaitFor([&] { return reply.has_value(); }, 60000);
    return reply.value_or(BrokerClient::Reply{0, {}, QStringLiteral("no answer in 60 s")});
  }
  const SessionRow* Row(const std::string& id) {
    return live.sessions().Find(QString::fromStdString(id));
  }
};

class ConsoleE2e : public SharedBrokerTest {
 protected:
  static std::string CreateSession(Api& admin, const std::string& user) {
    Reply created = admin.Call("POST", "/api/v1/sessions", {{"user", user}, {"desktop", false}});
    EXPECT_EQ(created.status, 201) << created.raw << broker_->log();
    return created.body.value("id", "");
  }
};

TEST_F(ConsoleE2e, SessionsShowLiveAndActionsReachTheKernel) {
  Console console;
  ASSERT_TRUE(console.ConnectAs(*broker_, "admin", broker_->admin_password()))
      << console.client.status_text().toStdString() << broker_->log();
  EXPECT_EQ(console.client.role(), QStringLiteral("admin"));
  // The fingerprint asked about is the CA's, as the broker printed it at start.
  QSslCertificate ca(QByteArray::fromStdString(broker_->ca_pem()));
  EXPECT_EQ(console.prompted, TrustedCa::Fingerprint(ca));
  std::string banner = test::ReadFile(broker_->state_dir() + "/banner.1");
  EXPECT_NE(banner.find(console.prompted.toStdString()), std::string::npos) << banner;
  EXPECT_TRUE(QTest::qWaitFor([&] { return console.live.hosts().rowCount() == 1; }, 5000));

  // Sessions created through the API appear within 2 s.
  Api admin = e2e::AdminApi(*broker_);
  std::vector<std::string> ids;
  for (const char* user : {"moat-e2e-con-a", "moat-e2e-con-b", "moat-e2e-con-c"}) {
    e2e::MakeUser(*broker_, user, "user");
    QElapsedTimer shown;
    shown.start();
    std::string id = CreateSession(admin, user);
    ASSERT_FALSE(id.empty());
    ids.push_back(id);
    ASSERT_TRUE(QTest::qWaitFor([&] { return console.Row(id) != nullptr; }, 2000))
        << id << " not in the console's model after 2 s";
    std::cout << "[ console ] " << id << " shown " << shown.elapsed() << " ms after POST\n";
    EXPECT_EQ(console.Row(id)->user.toStdString(), user);
    EXPECT_EQ(console.Row(id)->host, QStringLiteral("e2e-local"));
  }
  EXPECT_EQ(console.live.sessions().rowCount(), 3);
  const std::string& id = ids.front();
  QString qid = QString::fromStdString(id);

  // Usage flows at 1 Hz into the row and the chart history.
  EXPECT_TRUE(QTest::qWaitFor(
      [&] {
        return console.Row(id)->usage_at_ms > 0 && console.live.history().Points(qid).size() >= 2;
      },
      10000));
  EXPECT_GT(console.Row(id)->memory, 0);

  // Throttle through the console's client: the kernel's value changes.
  BrokerClient::Reply limited = console.Wait([&](BrokerClient::Done done) {
    console.client.SetLimits(qid, QJsonObject{{"cpu_percent", 30}, {"pids_max", 77}}, done);
  });
  ASSERT_TRUE(limited.ok()) << limited.status << " " << limited.error.toStdString();
  QJsonObject effective =
      limited.body.toObject().value(QLatin1String("effective_limits")).toObject();
  EXPECT_EQ(effective.value(QLatin1String("cpu_percent")).toDouble(), 30.0);
  EXPECT_EQ(effective.value(QLatin1String("pids_max")).toInt(), 77);
  std::string quota =
      SessionCgroupFile(broker_->cgroup_parent(), id, {"cpu.max", "cpu.cfs_quota_us"});
  ASSERT_FALSE(quota.empty());
  std::string value = test::Trim(test::ReadFile(quota));
  EXPECT_TRUE(value == "30000" || value.rfind("30000 ", 0) == 0) << quota << ": " << value;
  std::string pids = SessionCgroupFile(broker_->cgroup_parent(), id, {"pids.max"});
  if (!pids.empty()) {
    EXPECT_EQ(test::Trim(test::ReadFile(pids)), "77");
  }
  // The model learns the new limits from the stream (the audit event), as another admin's
  // console would.
  EXPECT_TRUE(QTest::qWaitFor(
      [&] { return console.Row(id)->limits.value(QLatin1String("cpu_percent")).toInt() == 30; },
      5000));
  EXPECT_TRUE(QTest::qWaitFor(
      [&] {
        for (int row = 0; row < console.live.audit().rowCount(); ++row) {
          const QJsonObject& event = console.live.audit().At(row);
          if (event.value(QLatin1String("kind")) == QLatin1String("session.limits") &&
              event.value(QLatin1String("session_id")) == qid) {
            return true;
          }
        }
        return false;
      },
      5000));

  // Processes of the session, as the detail view lists them.
  BrokerClient::Reply processes =
      console.Wait([&](BrokerClient::Done done) { console.client.Processes(qid, done); });
  ASSERT_TRUE(processes.ok()) << processes.error.toStdString();
  EXPECT_FALSE(processes.body.toObject().value(QLatin1String("processes")).toArray().isEmpty());

  // Suspend: frozen in the kernel, 'suspended' in the model; resume: 'active'.
  BrokerClient::Reply suspended =
      console.Wait([&](BrokerClient::Done done) { console.client.Suspend(qid, done); });
  ASSERT_TRUE(suspended.ok()) << suspended.error.toStdString();
  EXPECT_TRUE(
      QTest::qWaitFor([&] { return console.Row(id)->state == QLatin1String("suspended"); }, 2000));
  std::string freezer =
      SessionCgroupFile(broker_->cgroup_parent(), id, {"cgroup.freeze", "freezer.state"});
  ASSERT_FALSE(freezer.empty());
  std::string frozen = test::Trim(test::ReadFile(freezer));
  EXPECT_TRUE(frozen == "1" || frozen == "FROZEN") << frozen;
  BrokerClient::Reply resumed =
      console.Wait([&](BrokerClient::Done done) { console.client.Resume(qid, done); });
  ASSERT_TRUE(resumed.ok()) << resumed.error.toStdString();
  EXPECT_TRUE(
      QTest::qWaitFor([&] { return console.Row(id)->state == QLatin1String("active"); }, 2000));

  // The main window and the session's detail over these models, for the record.
  {
    MainWindow window(&console.client, &console.live);
    window.resize(1200, 600);
    window.show();
    SessionDetail* detail = window.OpenDetail(qid);
    // Another admin's throttle reaches the open detail's kernel line by itself (once it shows
    // what the kernel had when it opened).
    ASSERT_TRUE(QTest::qWaitFor(
        [&] { return detail->effective_text().contains(QLatin1String("pids_max: 77")); }, 5000))
        << detail->effective_text().toStdString();
    Reply other =
        admin.Call("POST", "/api/v1/sessions/" + id + "/limits", {{"limits", {{"pids_max", 88}}}});
    ASSERT_EQ(other.status, 200) << other.raw;
    EXPECT_TRUE(QTest::qWaitFor(
        [&] { return detail->effective_text().contains(QLatin1String("pids_max: 88")); }, 5000))
        << detail->effective_text().toStdString();
    QTest::qWait(2500);  // processes arrive, the charts get a few more points
    window.grab().save(QStringLiteral("console-e2e-main.png"));
    detail->grab().save(QStringLiteral("console-e2e-detail.png"));
  }

  // End: the row leaves the model, the wall is gone.
  for (const auto& session : ids) {
    BrokerClient::Reply ended = console.Wait([&](BrokerClient::Done done) {
      console.client.End(QString::fromStdString(session), done);
    });
    ASSERT_TRUE(ended.ok()) << ended.error.toStdString();
  }
  EXPECT_TRUE(QTest::qWaitFor([&] { return console.live.sessions().rowCount() == 0; }, 2000));
  EXPECT_FALSE(std::filesystem::exists(broker_->run_dir() + "/sessions/" + id));
}

TEST_F(ConsoleE2e, AuditorSeesEverythingAndCanChangeNothing) {
  Api admin = e2e::AdminApi(*broker_);
  e2e::MakeUser(*broker_, "moat-e2e-con-aud", "auditor");
  e2e::MakeUser(*broker_, "moat-e2e-con-d", "user");
  std::string id = CreateSession(admin, "moat-e2e-con-d");
  ASSERT_FALSE(id.empty());

  Console console;
  ASSERT_TRUE(console.ConnectAs(*broker_, "moat-e2e-con-aud", "pw-moat-e2e-con-aud-secret"))
      << console.client.status_text().toStdString();
  EXPECT_EQ(console.client.role(), QStringLiteral("auditor"));
  EXPECT_FALSE(console.client.CanOperate());
  ASSERT_TRUE(QTest::qWaitFor([&] { return console.Row(id) != nullptr; }, 2000));

  MainWindow window(&console.client, &console.live);
  window.show();
  window.sessions_view()->table()->selectRow(0);
  EXPECT_FALSE(window.sessions_view()->CurrentSession().isEmpty());
  int enabled = 0;
  for (QAction* action : window.findChildren<QAction*>()) {
    QString text = action->text();
    for (const char* name : {"Limits", "Suspend", "Resume", "Dis&connect User", "End", "Launch"}) {
      if (text.contains(QLatin1String(name)) && action->isEnabled()) {
        ++enabled;
        ADD_FAILURE() << "enabled for an auditor: " << text.toStdString();
      }
    }
  }
  EXPECT_EQ(enabled, 0);
  // And the broker agrees, should anything try.
  BrokerClient::Reply refused = console.Wait(
      [&](BrokerClient::Done done) { console.client.Suspend(QString::fromStdString(id), done); });
  EXPECT_EQ(refused.status, 403) << refused.error.toStdString();
  admin.Call("POST", "/api/v1/sessions/" + id + "/end");
}

TEST_F(ConsoleE2e, ChangedCaFingerprintIsRefused) {
  Console console;
  console.trust.Remember(QUrl(QString::fromStdString(broker_->url())),
                         QStringLiteral("00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                                        "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"));
  console.client.Connect(QUrl(QString::fromStdString(broker_->url())), QStringLiteral("admin"),
                         QString::fromStdString(broker_->admin_password()));
  ASSERT_TRUE(QTest::qWaitFor(
      [&] { return console.client.state() == BrokerClient::State::kRefused; }, 10000));
  EXPECT_TRUE(console.client.status_text().contains(QLatin1String("CHANGED")))
      << console.client.status_text().toStdString();
  EXPECT_TRUE(console.prompted.isEmpty());
  // It stays refused: no retry.
  QTest::qWait(1500);
  EXPECT_EQ(console.client.state(), BrokerClient::State::kRefused);
}

// The password never goes out unencrypted, and a console for a plain user would only retry a
// stream it may not open: both are refused at once, with the reason.
TEST_F(ConsoleE2e, APlainHttpAddressOrAUserAccountIsRefusedWithTheReason) {
  Console plain;
  QUrl http(QString::fromStdString(broker_->url()));
  http.setScheme(QStringLiteral("http"));
  plain.client.Connect(http, QStringLiteral("admin"),
                       QString::fromStdString(broker_->admin_password()));
  EXPECT_EQ(plain.client.state(), BrokerClient::State::kRefused);
  EXPECT_TRUE(plain.client.status_text().contains(QLatin1String("https://")))
      << plain.client.status_text().toStdString();

  e2e::MakeUser(*broker_, "moat-e2e-con-u", "user");
  Console user;
  user.client.Connect(QUrl(QString::fromStdString(broker_->url())),
                      QStringLiteral("moat-e2e-con-u"), QStringLiteral("pw-moat-e2e-con-u-secret"));
  ASSERT_TRUE(
      QTest::qWaitFor([&] { return user.client.state() == BrokerClient::State::kRefused; }, 10000))
      << user.client.status_text().toStdString();
  EXPECT_TRUE(user.client.status_text().contains(QLatin1String("is a 'user'")))
      << user.client.status_text().toStdString();
}

// A broker that comes back with another CA is refused as loudly as at the first connect, not
// retried forever on a TLS error: every reconnect checks the CA again.
TEST_F(ConsoleE2e, AReconnectChecksTheCaAgain) {
  Console console;
  ASSERT_TRUE(console.ConnectAs(*broker_, "admin", broker_->admin_password()));
  QUrl server(QString::fromStdString(broker_->url()));
  console.trust.Forget(server);
  console.trust.Remember(server, QStringLiteral("00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                                                "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"));
  broker_->Terminate();
  broker_->Start();
  ASSERT_TRUE(QTest::qWaitFor(
      [&] { return console.client.state() == BrokerClient::State::kRefused; }, 40000))
      << console.client.status_text().toStdString();
  EXPECT_TRUE(console.client.status_text().contains(QLatin1String("CHANGED")))
      << console.client.status_text().toStdString();
}

TEST_F(ConsoleE2e, ReconnectsWithBackoffWhenTheBrokerRestarts) {
  Console console;
  ASSERT_TRUE(console.ConnectAs(*broker_, "admin", broker_->admin_password()));
  std::vector<QString> states;
  QObject::connect(&console.client, &BrokerClient::stateChanged,
                   [&](BrokerClient::State, const QString& text) { states.push_back(text); });
  broker_->Terminate();
  ASSERT_TRUE(QTest::qWaitFor(
      [&] { return console.client.state() == BrokerClient::State::kReconnecting; }, 5000));
  EXPECT_TRUE(console.client.status_text().contains(QLatin1String("reconnecting in")))
      << console.client.status_text().toStdString();
  broker_->Start();
  ASSERT_TRUE(QTest::qWaitFor(
      [&] { return console.client.state() == BrokerClient::State::kConnected; }, 40000))
      << console.client.status_text().toStdString();
  for (const auto& text : states) std::cout << "[ console ] status: " << text.toStdString() << "\n";
  // The stream works again.
  Api admin = e2e::AdminApi(*broker_);
  e2e::MakeUser(*broker_, "moat-e2e-con-e", "user");
  std::string id = CreateSession(admin, "moat-e2e-con-e");
  EXPECT_TRUE(QTest::qWaitFor([&] { return console.Row(id) != nullptr; }, 2000));
  admin.Call("POST", "/api/v1/sessions/" + id + "/end");
}

}  // namespace
}  // namespace moat::console

int main(int argc, char** argv) {
  qputenv("QT_QPA_PLATFORM", "offscreen");
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("Moat"));
  QApplication::setApplicationName(QStringLiteral("moat-console-e2e"));
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
