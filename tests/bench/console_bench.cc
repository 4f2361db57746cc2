// SPDX-License-Identifier: GPL-3.0-or-later
// moat-console (issue 7): the cost of one live update of 1,000 sessions, the load the console
// sees every second from the event stream. Target: under 10 ms per update. Three views of it:
//   ApplyUsage      the sessions model applying 1,000 parsed samples (dataChanged ranges)
//   EnqueueFlush    the whole path: parse the JSON text of the usage message, queue, flush into
//                   the model and the chart history
//   EnqueueFlush/SortedByCpu  the same with the sessions view's proxy attached, sorted by CPU,
//                   so the re-sort every update costs is counted too
// Linked against the console's model library only: this is the console's own cost, not Qt's
// painting (which the view does for the visible rows only).
#include <benchmark/benchmark.h>

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include "models/liveupdates.h"
#include "models/sessionfiltermodel.h"

namespace {

using moat::console::LiveUpdates;
using moat::console::SessionFilterModel;
using moat::console::SessionModel;
using moat::console::UsageSample;

constexpr qint64 kStart = 1795700000;

QJsonArray Listing(int sessions) {
  QJsonArray listing;
  for (int i = 0; i < sessions; ++i) {
    listing.append(QJsonObject{{"id", QStringLiteral("s-%1").arg(i, 24, 16, QLatin1Char('0'))},
                               {"user", QStringLiteral("user%1").arg(i)},
                               {"host", QStringLiteral("node%1").arg(i % 8)},
                               {"backend", i % 10 == 0 ? "vm" : "sandbox"},
                               {"state", "active"},
                               {"limits", QJsonObject{{"cpu_percent", 100}}},
                               {"created_at", kStart + i},
                               {"updated_at", kStart + i},
                               {"last_input_at", kStart + i}});
  }
  return listing;
}

// One usage message as the broker sends it, second `tick`.
QByteArray UsageMessage(int sessions, int tick) {
  QJsonArray samples;
  for (int i = 0; i < sessions; ++i) {
    samples.append(
        QJsonObject{{"session_id", QStringLiteral("s-%1").arg(i, 24, 16, QLatin1Char('0'))},
                    {"at", (kStart + 1000 + tick) * 1000},
                    {"cpu_usage_us", qint64{tick} * 1000 + i},
                    {"cpu_percent", ((i * 37 + tick * 11) % 1000) / 10.0},
                    {"memory_current", qint64{(i % 97 + tick % 13) + 20} << 20},
                    {"memory_peak", qint64{200} << 20},
                    {"pids", 5 + (i + tick) % 40},
                    {"io_read_bytes", 0},
                    {"io_write_bytes", 0},
                    {"oom_kills", 0},
                    {"psi", QJsonObject{{"cpu", 0.5}}}});
  }
  return QJsonDocument(QJsonObject{{"type", "usage"},
                                   {"at", (kStart + 1000 + tick) * 1000},
                                   {"host", "node0"},
                                   {"samples", samples}})
      .toJson(QJsonDocument::Compact);
}

void ApplyUsage(benchmark::State& state) {
  const int sessions = static_cast<int>(state.range(0));
  SessionModel model;
  model.Reset(Listing(sessions));
  std::vector<std::vector<UsageSample>> batches;
  for (int tick = 0; tick < 16; ++tick) {
    auto event = moat::console::ParseEvent(UsageMessage(sessions, tick));
    batches.push_back(std::get<moat::console::UsageEvent>(*event).samples);
  }
  int tick = 0;
  for (auto _ : state) {
    // Samples must be newer than the row's to apply: shift them forward each round.
    auto& batch = batches[static_cast<size_t>(tick % 16)];
    for (auto& sample : batch) sample.at_ms += 16'000;
    model.ApplyUsage(batch);
    ++tick;
  }
  state.counters["sessions"] = sessions;
}
BENCHMARK(ApplyUsage)->Arg(1000)->Unit(benchmark::kMillisecond);

void EnqueueFlush(benchmark::State& state) {
  const int sessions = static_cast<int>(state.range(0));
  const bool sorted = state.range(1) != 0;
  LiveUpdates live(nullptr, 250);
  live.ResetSessions(Listing(sessions));
  SessionFilterModel proxy;
  if (sorted) {
    proxy.setSourceModel(&live.sessions());
    proxy.sort(SessionModel::kCpu, Qt::DescendingOrder);
  }
  // Messages prepared up front: the broker's text is an input, not part of the console's cost.
  std::vector<QByteArray> messages;
  for (int tick = 0; tick < 600; ++tick) messages.push_back(UsageMessage(sessions, tick));
  size_t tick = 0;
  for (auto _ : state) {
    if (tick == messages.size()) {
      state.PauseTiming();
      live.ResetSessions(Listing(sessions));  // also clears the history, so samples apply again
      tick = 0;
      state.ResumeTiming();
    }
    live.Enqueue(messages[tick++]);
    live.Flush();
  }
  state.counters["sessions"] = sessions;
  state.SetLabel(sorted ? "sorted by CPU" : "no view");
}
BENCHMARK(EnqueueFlush)
    ->ArgsProduct({{1000}, {0, 1}})
    ->ArgNames({"sessions", "sorted"})
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);  // LiveUpdates' coalescing timer wants an event dispatcher
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
