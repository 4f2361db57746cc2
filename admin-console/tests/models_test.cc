// SPDX-License-Identifier: GPL-3.0-or-later
// The console's models fed with recorded /api/v1/events messages (testdata/, shapes of
// docs/api.md), each under QAbstractItemModelTester so that every signal they send is checked
// against what the views rely on.
#include <QAbstractItemModelTester>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>

#include "models/liveupdates.h"
#include "models/sessionfiltermodel.h"

using moat::console::AuditModel;
using moat::console::HostModel;
using moat::console::LiveUpdates;
using moat::console::SessionFilterModel;
using moat::console::SessionModel;

namespace {

QByteArray ReadData(const char* name) {
  QFile file(QStringLiteral(MOAT_CONSOLE_TESTDATA "/") + QLatin1String(name));
  if (!file.open(QIODevice::ReadOnly)) qFatal("cannot read test data '%s'", name);
  return file.readAll();
}

QJsonArray ReadArray(const char* name, const char* key) {
  return QJsonDocument::fromJson(ReadData(name)).object().value(QLatin1String(key)).toArray();
}

QList<QByteArray> RecordedEvents() {
  QList<QByteArray> lines = ReadData("events.jsonl").split('\n');
  lines.removeAll(QByteArray());
  return lines;
}

QString Cell(const QAbstractItemModel& model, int row, int column) {
  return model.data(model.index(row, column)).toString();
}

}  // namespace

class ModelsTest : public QObject {
  Q_OBJECT

 private:
  static void Attach(QAbstractItemModel* model) {
    new QAbstractItemModelTester(model, QAbstractItemModelTester::FailureReportingMode::QtTest,
                                 model);
  }

 private slots:
  void SessionsListingFillsTheModel() {
    LiveUpdates live(nullptr, 1000);
    Attach(&live.sessions());
    live.ResetSessions(ReadArray("sessions.json", "sessions"));
    SessionModel& model = live.sessions();
    QCOMPARE(model.rowCount(), 3);
    int alice = model.RowOf(QStringLiteral("s-1a"));
    QCOMPARE(Cell(model, alice, SessionModel::kUser), QStringLiteral("alice"));
    QCOMPARE(Cell(model, alice, SessionModel::kHost), QStringLiteral("node1"));
    QCOMPARE(Cell(model, alice, SessionModel::kBackend), QStringLiteral("sandbox"));
    QCOMPARE(Cell(model, alice, SessionModel::kCpu), QStringLiteral("3.1"));
    QCOMPARE(Cell(model, alice, SessionModel::kMemory), QStringLiteral("50.0 MiB"));
    QCOMPARE(Cell(model, alice, SessionModel::kPids), QStringLiteral("7"));
    model.SetNow(1795700100 + 125);
    QCOMPARE(Cell(model, alice, SessionModel::kIdle), QStringLiteral("2m 05s"));
    QCOMPARE(Cell(model, model.RowOf(QStringLiteral("s-2b")), SessionModel::kIdle),
             QStringLiteral("—"));
  }

  void RecordedStreamIsAppliedOnFlushOnly() {
    LiveUpdates live(nullptr, 60'000);
    Attach(&live.sessions());
    Attach(&live.hosts());
    Attach(&live.audit());
    live.ResetSessions(ReadArray("sessions.json", "sessions"));
    live.ResetHosts(ReadArray("hosts.json", "hosts"));
    live.ResetAudit(ReadArray("audit.json", "events"));
    for (const QByteArray& message : RecordedEvents()) live.Enqueue(message);

    // Nothing reaches the views before the coalescing tick.
    SessionModel& sessions = live.sessions();
    QCOMPARE(sessions.RowOf(QStringLiteral("s-4d")), -1);
    QSignalSpy flushed(&live, &LiveUpdates::flushed);
    live.Flush();
    QCOMPARE(flushed.count(), 1);

    // s-4d was created (starting, then active); s-2b ended and left; s-1a was suspended and a
    // late, older copy of it did not bring it back to active.
    QCOMPARE(sessions.rowCount(), 3);
    QCOMPARE(sessions.RowOf(QStringLiteral("s-2b")), -1);
    QVERIFY(sessions.Find(QStringLiteral("s-4d")) != nullptr);
    QCOMPARE(sessions.Find(QStringLiteral("s-4d"))->state, QStringLiteral("active"));
    const auto* alice = sessions.Find(QStringLiteral("s-1a"));
    QCOMPARE(alice->state, QStringLiteral("suspended"));
    QCOMPARE(alice->limits.value(QLatin1String("cpu_percent")).toInt(), 30);
    // The newest of the two queued samples is shown; the state event kept it.
    QCOMPARE(alice->cpu_percent, 25.0);
    QCOMPARE(alice->memory, qint64{73400320});
    QCOMPARE(alice->pids, qint64{10});
    QCOMPARE(sessions.Find(QStringLiteral("s-4d"))->pids, qint64{3});
    // A limits change by anyone reaches the row through its audit event.
    QCOMPARE(sessions.Find(QStringLiteral("s-3c"))->limits.value(QLatin1String("pids_max")).toInt(),
             77);
    // Every sample is kept for the charts.
    QCOMPARE(live.history().Points(QStringLiteral("s-1a")).size(), size_t{2});
    QVERIFY(live.history().Points(QStringLiteral("s-2b")).empty());

    // Hosts: the event's keys merged over the listing's; load counted from the live sessions.
    HostModel& hosts = live.hosts();
    QCOMPARE(hosts.rowCount(), 2);
    QCOMPARE(Cell(hosts, 1, HostModel::kDrained), QStringLiteral("yes"));
    QCOMPARE(Cell(hosts, 1, HostModel::kConnected), QStringLiteral("yes"));
    QCOMPARE(Cell(hosts, 0, HostModel::kSessions), QStringLiteral("2"));
    QCOMPARE(Cell(hosts, 0, HostModel::kCpu), QStringLiteral("25.0"));
    QCOMPARE(Cell(hosts, 1, HostModel::kSessions), QStringLiteral("1"));

    // Audit: newest first, the stream's events over the listing's.
    AuditModel& audit = live.audit();
    QCOMPARE(audit.rowCount(), 5);
    QCOMPARE(audit.At(0).value(QLatin1String("id")).toInt(), 43);
    QCOMPARE(audit.At(1).value(QLatin1String("id")).toInt(), 42);
    QCOMPARE(audit.At(2).value(QLatin1String("id")).toInt(), 41);
    QCOMPARE(Cell(audit, 2, AuditModel::kChange),
             QStringLiteral("{\"cpu_percent\":50} → {\"cpu_percent\":30}"));
    QCOMPARE(Cell(audit, 1, AuditModel::kDetail), QStringLiteral("{\"reason\":\"logout\"}"));
    // Replaying the stream adds nothing.
    for (const QByteArray& message : RecordedEvents()) live.Enqueue(message);
    live.Flush();
    QCOMPARE(audit.rowCount(), 5);
    QCOMPARE(sessions.rowCount(), 3);
  }

  // The listing is read while the stream runs: events that arrived (and were applied) before
  // it came must not be undone by it. Here the listing predates all of them.
  void EventsWhileTheListingIsReadAreAppliedOverIt() {
    LiveUpdates live(nullptr, 60'000);
    Attach(&live.sessions());
    live.BeginSessionsSnapshot();
    for (const QByteArray& message : RecordedEvents()) live.Enqueue(message);
    live.Flush();
    live.ResetSessions(ReadArray("sessions.json", "sessions"));
    SessionModel& sessions = live.sessions();
    QCOMPARE(sessions.RowOf(QStringLiteral("s-2b")), -1);       // ended meanwhile: not back
    QVERIFY(sessions.Find(QStringLiteral("s-4d")) != nullptr);  // created meanwhile: kept
    QCOMPARE(sessions.Find(QStringLiteral("s-1a"))->state, QStringLiteral("suspended"));
    QCOMPARE(sessions.rowCount(), 3);
    // Once the listing is in, a later listing is taken as it is.
    live.ResetSessions(ReadArray("sessions.json", "sessions"));
    QCOMPARE(sessions.Find(QStringLiteral("s-1a"))->state, QStringLiteral("active"));
  }

  void UsageUpdateSendsFewRanges() {
    LiveUpdates live(nullptr, 60'000);
    Attach(&live.sessions());
    QJsonArray listing;
    for (int i = 0; i < 100; ++i) {
      listing.append(QJsonObject{{"id", QStringLiteral("s-%1").arg(i)},
                                 {"user", QStringLiteral("u%1").arg(i)},
                                 {"host", "node1"},
                                 {"backend", "sandbox"},
                                 {"state", "active"},
                                 {"created_at", 1795700000},
                                 {"updated_at", 1795700000}});
    }
    live.ResetSessions(listing);
    QSignalSpy changed(&live.sessions(), &QAbstractItemModel::dataChanged);
    // Rows 10, 11, 12 and 50 changed: two ranges.
    QJsonArray samples;
    for (int i : {10, 11, 12, 50}) {
      samples.append(QJsonObject{{"session_id", QStringLiteral("s-%1").arg(i)},
                                 {"at", qint64{1795700001000}},
                                 {"cpu_percent", 5.0},
                                 {"memory_current", 1024},
                                 {"pids", 1}});
    }
    live.Enqueue(QJsonDocument(QJsonObject{{"type", "usage"}, {"samples", samples}}).toJson());
    live.sessions().SetNow(0);  // the idle column's signal is not under test here
    changed.clear();
    live.Flush();
    // Two usage ranges, one idle column range.
    QCOMPARE(changed.count(), 3);
    QCOMPARE(changed.at(0).at(0).toModelIndex().row(), 10);
    QCOMPARE(changed.at(0).at(1).toModelIndex().row(), 12);
    QCOMPARE(changed.at(1).at(0).toModelIndex().row(), 50);
  }

  void FilterBySearchStateAndHost() {
    LiveUpdates live(nullptr, 60'000);
    live.ResetSessions(ReadArray("sessions.json", "sessions"));
    SessionFilterModel filter;
    filter.setSourceModel(&live.sessions());
    Attach(&filter);
    QCOMPARE(filter.rowCount(), 3);
    filter.SetHost(QStringLiteral("node1"));
    QCOMPARE(filter.rowCount(), 2);
    filter.SetState(QStringLiteral("suspended"));
    QCOMPARE(filter.rowCount(), 1);
    QCOMPARE(Cell(filter, 0, SessionModel::kUser), QStringLiteral("carol"));
    filter.SetState({});
    filter.SetHost({});
    filter.SetSearch(QStringLiteral("BOB"));
    QCOMPARE(filter.rowCount(), 1);
    filter.SetSearch({});
    // Numbers sort as numbers, not as text.
    filter.sort(SessionModel::kMemory, Qt::DescendingOrder);
    QCOMPARE(Cell(filter, 0, SessionModel::kUser), QStringLiteral("alice"));
    // Live updates keep the proxy consistent.
    for (const QByteArray& message : RecordedEvents()) live.Enqueue(message);
    live.Flush();
    QCOMPARE(filter.rowCount(), 3);
  }

  void MalformedAndUnknownMessagesAreSkipped() {
    LiveUpdates live(nullptr, 60'000);
    live.Enqueue(QByteArray("{"));
    live.Enqueue(QByteArray("[1,2]"));
    live.Enqueue(QByteArray(R"({"type":"session.state","session":{}})"));
    live.Enqueue(QByteArray(R"({"type":"telemetry","x":1})"));
    QCOMPARE(live.pending(), 0);
  }
};

QTEST_GUILESS_MAIN(ModelsTest)
#include "models_test.moc"
