// SPDX-License-Identifier: GPL-3.0-or-later
// The console's widgets over models fed with stream messages (no broker needed): the main
// window, a session's detail with its live charts, and the throttle dialog, each grabbed into
// the build tree (console-main.png, console-detail.png, console-limits.png); the search box,
// the limits the dialog sends, the actions of a console that is not connected, and the window
// layout remembered across runs.
#include <QAction>
#include <QApplication>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLineEdit>
#include <QSettings>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include "client/brokerclient.h"
#include "models/liveupdates.h"
#include "models/sessionfiltermodel.h"
#include "ui/limitsdialog.h"
#include "ui/mainwindow.h"
#include "ui/sessiondetail.h"
#include "ui/sessionsview.h"
#include "ui/usagechart.h"

using namespace moat::console;

namespace {

constexpr int kSessions = 40;
constexpr int kSeconds = 300;  // five minutes of history

const char* const kUsers[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"};
const char* const kStates[] = {"active", "active", "active", "disconnected", "active", "suspended"};

QString Id(int i) { return QStringLiteral("s-%1").arg(i * 7919 + 4096, 8, 16, QLatin1Char('0')); }

void Fill(LiveUpdates& live) {
  qint64 now = QDateTime::currentSecsSinceEpoch();
  QJsonArray sessions;
  for (int i = 0; i < kSessions; ++i) {
    sessions.append(QJsonObject{
        {"id", Id(i)},
        {"user", QStringLiteral("%1%2")
                     .arg(QLatin1String(kUsers[i % 8]))
                     .arg(i / 8 ? QString::number(i / 8) : QString())},
        {"host", QStringLiteral("node%1").arg(i % 3 + 1)},
        {"backend", i % 9 == 4 ? "vm" : "sandbox"},
        {"state", kStates[i % 6]},
        {"limits", i % 4 == 0 ? QJsonObject{{"cpu_percent", 50}, {"memory_max", qint64{2} << 30}}
                              : QJsonObject{}},
        {"created_at", now - 3600 - i * 420},
        {"updated_at", now - 60},
        {"last_input_at", i % 6 == 3 ? QJsonValue() : QJsonValue(now - (i * 37) % 900)}});
  }
  live.ResetSessions(sessions);
  QJsonArray hosts;
  for (int h = 1; h <= 3; ++h) {
    hosts.append(QJsonObject{{"name", QStringLiteral("node%1").arg(h)},
                             {"state", "online"},
                             {"connected", true},
                             {"enabled", true},
                             {"drained", h == 3},
                             {"capacity", 50}});
  }
  live.ResetHosts(hosts);
  QJsonArray audit;
  for (int e = 0; e < 12; ++e) {
    audit.append(QJsonObject{{"id", 100 - e},
                             {"at", now - e * 95},
                             {"actor", e % 3 ? "admin" : "system"},
                             {"kind", e % 2 ? "session.limits" : "session.state"},
                             {"session_id", Id(e)},
                             {"old_value", e % 2 ? "{\"cpu_percent\":100}" : "active"},
                             {"new_value", e % 2 ? "{\"cpu_percent\":50}" : "suspended"},
                             {"detail", QJsonObject{}}});
  }
  live.ResetAudit(audit);
  // Five minutes of 1 Hz usage, as the stream sends it: a busy first session, quieter others.
  qint64 now_ms = QDateTime::currentMSecsSinceEpoch();
  for (int t = kSeconds; t >= 0; --t) {
    QJsonArray samples;
    for (int i = 0; i < kSessions; ++i) {
      double wave = 0.5 + 0.5 * std::sin((kSeconds - t) / 17.0 + i);
      double cpu = i == 0 ? (t > 120 ? 85 + 10 * wave : 28 + 2 * wave) : 1 + 6 * wave * (i % 5);
      samples.append(QJsonObject{
          {"session_id", Id(i)},
          {"at", now_ms - t * 1000},
          {"cpu_percent", cpu},
          {"memory_current", qint64(200 + 150 * wave + (kSeconds - t) * (i == 0)) << 20},
          {"pids", 12 + i % 30}});
    }
    live.Enqueue(QJsonDocument(QJsonObject{{"type", "usage"}, {"samples", samples}}).toJson());
  }
  live.Flush();
}

}  // namespace

class UiTest : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QVERIFY(settings_dir_.isValid());
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, settings_dir_.path());
    QApplication::setOrganizationName(QStringLiteral("Moat"));
    QApplication::setApplicationName(QStringLiteral("moat-console-ui-test"));
  }

  void MainWindowShowsAndFiltersSessions() {
    LiveUpdates live;
    TrustedCa trust;
    BrokerClient client(&trust);
    MainWindow window(&client, &live);
    window.resize(1280, 720);
    window.show();
    Fill(live);
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QTableView* table = window.sessions_view()->table();
    QCOMPARE(table->model()->rowCount(), kSessions);
    window.sessions_view()->table()->sortByColumn(SessionModel::kCpu, Qt::DescendingOrder);
    QCOMPARE(table->model()->index(0, SessionModel::kUser).data().toString(),
             QStringLiteral("alice"));
    table->selectRow(0);
    QVERIFY(window.grab().save(QStringLiteral("console-main.png")));

    // Typing in the search box filters as you type.
    auto* search = window.sessions_view()->findChild<QLineEdit*>();
    QVERIFY(search != nullptr);
    QTest::keyClicks(search, QStringLiteral("carol"));
    QCOMPARE(table->model()->rowCount(), 5);  // carol, carol1 … carol4
    search->clear();
    QCOMPARE(table->model()->rowCount(), kSessions);

    // Not connected: nothing that would need the broker is enabled.
    for (QAction* action : window.findChildren<QAction*>()) {
      if (action->text().contains(QLatin1String("Suspend")) ||
          action->text().contains(QLatin1String("Limits"))) {
        QVERIFY2(!action->isEnabled(), qPrintable(action->text()));
      }
    }
  }

  void SessionDetailChartsTheLastMinutes() {
    LiveUpdates live;
    TrustedCa trust;
    BrokerClient client(&trust);
    MainWindow window(&client, &live);
    Fill(live);
    SessionDetail* detail = window.OpenDetail(Id(0));
    QVERIFY(detail != nullptr);
    QVERIFY(QTest::qWaitForWindowExposed(detail));
    QCOMPARE(detail->cpu_chart()->point_count(), kSeconds + 1);
    QCOMPARE(detail->memory_chart()->point_count(), kSeconds + 1);
    QJsonArray processes;
    const char* commands[] = {
        "moat-init", "Xvnc :0 -rfbunixpath /run/vnc", "openbox", "xterm", "bash",
        "make -j8",  "cc1plus build/big.cc"};
    for (int p = 0; p < 7; ++p) {
      processes.append(QJsonObject{{"pid", p + 1},
                                   {"ppid", p == 0 ? 0 : (p < 3 ? 1 : p)},
                                   {"uid", 1000},
                                   {"app", p >= 3 ? "app-1" : ""},
                                   {"command", commands[p]},
                                   {"state", p == 6 ? "R" : "S"},
                                   {"rss_bytes", qint64(3 + p * 40) << 20},
                                   {"cpu_time_ms", p * 61000}});
    }
    detail->SetProcesses(processes);
    detail->SetEffectiveLimits(
        QJsonObject{{"cpu_percent", 50}, {"memory_max", qint64{2} << 30}, {"pids_max", "max"}});
    // Another second arrives: the chart follows.
    live.Enqueue(QJsonDocument(
                     QJsonObject{{"type", "usage"},
                                 {"samples", QJsonArray{QJsonObject{
                                                 {"session_id", Id(0)},
                                                 {"at", QDateTime::currentMSecsSinceEpoch() + 1000},
                                                 {"cpu_percent", 30.0},
                                                 {"memory_current", qint64{600} << 20},
                                                 {"pids", 20}}}}})
                     .toJson());
    QVERIFY(
        QTest::qWaitFor([&] { return detail->cpu_chart()->point_count() == kSeconds + 2; }, 2000));
    QVERIFY(detail->grab().save(QStringLiteral("console-detail.png")));
  }

  void LimitsDialogSendsWhatWasSet() {
    LimitsDialog dialog(QStringLiteral("Limits of alice's session s-00001000 on node1"),
                        QJsonObject{{"cpu_percent", 50},
                                    {"memory_max", qint64{2} << 30},
                                    {"cpu_weight", 300},
                                    {"memory_high", qint64{1} << 30}});
    QVERIFY(dialog.Limits().isEmpty());  // nothing changed, nothing sent
    dialog.SetCpuPercent(30);
    dialog.SetPidsMax(500);
    dialog.Untick(QStringLiteral("cpu_weight"));
    dialog.Untick(QStringLiteral("memory_high"));
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    QJsonObject limits = dialog.Limits();
    QCOMPARE(limits.value(QLatin1String("cpu_percent")).toInteger(), 30);
    QCOMPARE(limits.value(QLatin1String("pids_max")).toInteger(), 500);
    QCOMPARE(limits.value(QLatin1String("memory_high")).toString(), QStringLiteral("max"));
    // A weight cannot be lifted: unticked, it goes back to the default share.
    QCOMPARE(limits.value(QLatin1String("cpu_weight")).toInteger(), 100);
    // Left as it was: not sent, so another admin's change meanwhile stands.
    QVERIFY(!limits.contains(QLatin1String("memory_max")));
    QCOMPARE(limits.size(), 4);
    QVERIFY(dialog.grab().save(QStringLiteral("console-limits.png")));
  }

  void WindowLayoutIsRemembered() {
    LiveUpdates live;
    TrustedCa trust;
    BrokerClient client(&trust);
    {
      MainWindow first(&client, &live);
      first.show();
      first.resize(1010, 640);
      QVERIFY(QTest::qWaitForWindowExposed(&first));
      first.close();
    }
    MainWindow second(&client, &live);
    QCOMPARE(second.size(), QSize(1010, 640));
  }

 private:
  QTemporaryDir settings_dir_;
};

QTEST_MAIN(UiTest)
#include "ui_test.moc"
