// Control-plane benchmarks (issue 5) against a real moat-broker process:
//
//  - BM_ListSessionsHttps: GET /api/v1/sessions (the default page of 100, and ?limit=1000) over
//    N keep-alive HTTPS connections, one per thread, with 1000 sessions in the database. Target:
//    at least 5,000 listings/s on 2 cores (items_per_second). uncached:1 cycles through pages
//    so that the broker's listing cache never answers: the cost of the query and the JSON. The
//    broker's and this process's CPU per request are counters too: client and broker share the same
//    2 cores here.
//  - BM_ListSessionsSqliteFloor: the same page straight from SQLite in this process (read-only
//    connection, prepared once): the peer, the floor under the API.
//  - BM_ListSessionsInProcess: the broker's own handler code (ListSessionViews, AppendJson)
//    in this process: the API without HTTPS, auth and routing.
//  - BM_UsageIngest: a fake agent sends a usage.batch of 1000 samples every second; the broker's
//    CPU time (/proc/PID/stat) over the window, minus an idle window of the same length before
//    it. Target: under 5 % of one core.
//  - BM_UsageDecode, BM_UsageInsert, BM_UsageEvent: the steps of ingesting one batch, in this
//    process, to show where the broker's time goes.
//
// The database is seeded before the broker starts: 10 users, one host, 1000 sessions, all
// active (the fake agent's host.hello lists them all, so reconciliation keeps them active).
// One usage batch is ingested before the listings run, so every listed session carries its
// latest usage as it would in production.
//
//   moat-bench-api [benchmark flags] [--bench_sessions=1000] [--bench_ingest_s=60]
//                  [--bench_seed_sql='CREATE INDEX …'] [--bench_keep_state]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

#include "api_bench_broker.h"
#include "broker/events.h"
#include "broker/session_view.h"
#include "db/database.h"
#include "db/usage_store.h"
#include "http/event_hub.h"
#include "moat/common/wire/envelope.h"

namespace moat::bench {
namespace {

namespace db = broker::db;
using Clock = std::chrono::steady_clock;

struct Flags {
  int sessions = 1000;
  int ingest_s = 60;  // a minute: each window holds one of the broker's minutely roll-ups
  bool keep_state = false;
  // Run on the broker's database after seeding: to try a schema change (an index, say) without
  // a migration. Figures taken with it are experiments, not the tree's.
  std::string seed_sql;
};

struct Env {
  Flags flags;
  std::filesystem::path dir;
  std::vector<SeededSession> sessions;
  std::unique_ptr<BrokerProcess> broker;
  std::string token;
  std::unique_ptr<FakeAgent> agent;
  uint64_t usage_tick = 0;
  // For BM_UsageInsert: a second seeded database (not the broker's) and its sessions.
  std::filesystem::path scratch_db;
  std::vector<SeededSession> scratch_sessions;

  std::mutex mutex;
  std::vector<std::unique_ptr<net::HttpsClient>> clients;  // by benchmark thread index
};
Env* env = nullptr;

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::int64_t QueryInt(const std::filesystem::path& path, const std::string& sql) {
  auto database = db::Database::Open(path, {.read_only = true, .busy_timeout_ms = 5000});
  if (!database) return -1;
  return database->QueryInt(sql).value_or(-1);
}

net::HttpsClient* ClientFor(int thread) {
  std::lock_guard lock(env->mutex);
  if (env->clients.size() <= static_cast<size_t>(thread)) env->clients.resize(thread + 1);
  auto& client = env->clients[static_cast<size_t>(thread)];
  if (!client) {
    auto connected = env->broker->Client();
    if (!connected) return nullptr;
    client = std::move(*connected);
  }
  return client.get();
}

std::string ListTarget(std::int64_t limit) {
  return limit == 100 ? "/api/v1/sessions" : "/api/v1/sessions?limit=" + std::to_string(limit);
}

// --- listing --------------------------------------------------------------------------------

void BM_ListSessionsHttps(benchmark::State& state) {
  net::HttpsClient* client = ClientFor(state.thread_index());
  if (!client) return state.SkipWithError("cannot connect to the broker");
  net::ClientRequest request{.method = "GET",
                             .target = ListTarget(state.range(0)),
                             .headers = {{"Authorization", "Bearer " + env->token}},
                             .body = {}};
  double broker_before = 0, self_before = 0;
  if (state.thread_index() == 0) {
    broker_before = ProcessCpuSeconds(env->broker->pid());
    self_before = SelfCpuSeconds();
  }
  int64_t bytes = 0;
  // uncached:1 asks for a different page each time (offsets 0..899 cycle through more pages
  // than the broker's listing cache keeps), so every request runs the query and renders JSON.
  const bool uncached = state.range(1) != 0;
  int64_t offset = state.thread_index() * 37;
  for (auto _ : state) {
    if (uncached) {
      offset = (offset + 1) % 900;
      request.target = "/api/v1/sessions?limit=" + std::to_string(state.range(0)) +
                       "&offset=" + std::to_string(offset);
    }
    auto response = client->Send(request);
    if (!response || response->status != 200) {
      state.SkipWithError(response ? ("status " + std::to_string(response->status)).c_str()
                                   : response.error().message().c_str());
      break;
    }
    bytes += static_cast<int64_t>(response->body.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
  if (state.thread_index() == 0 && state.iterations() > 0) {
    // Every thread runs the same number of iterations.
    double requests = static_cast<double>(state.iterations()) * state.threads();
    state.counters["broker_cpu_us_per_req"] =
        (ProcessCpuSeconds(env->broker->pid()) - broker_before) * 1e6 / requests;
    state.counters["client_cpu_us_per_req"] = (SelfCpuSeconds() - self_before) * 1e6 / requests;
    state.counters["response_kib"] =
        static_cast<double>(bytes) / static_cast<double>(state.iterations()) / 1024.0;
  }
}
BENCHMARK(BM_ListSessionsHttps)
    ->ArgNames({"limit", "uncached"})
    ->Args({100, 0})
    ->Args({1000, 0})
    ->Args({100, 1})
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->UseRealTime()
    ->MinTime(3);

// The floor: the same rows from SQLite, no JSON, no HTTP, no TLS.
void BM_ListSessionsSqliteFloor(benchmark::State& state) {
  auto database =
      db::Database::Open(env->broker->database(), {.read_only = true, .busy_timeout_ms = 5000});
  if (!database) return state.SkipWithError(database.error().message().c_str());
  auto stmt = database->Prepare(
      "SELECT id, user_name, user_id, host_name, host_id, backend, state, limits, created_at, "
      "updated_at, last_input_at, ended_at, failure_reason FROM v_sessions "
      "ORDER BY created_at DESC, id LIMIT ?1",
      /*persistent=*/true);
  if (!stmt) return state.SkipWithError(stmt.error().message().c_str());
  int64_t rows = 0;
  for (auto _ : state) {
    stmt->Reset();
    if (!stmt->Bind(1, state.range(0))) return state.SkipWithError("bind");
    for (;;) {
      auto row = stmt->Step();
      if (!row || !*row) break;
      // Read every column as the broker does, into owned strings.
      broker::SessionView view{stmt->Text(0),         stmt->Text(1),         stmt->Int(2),
                               stmt->OptionalText(3), stmt->OptionalInt(4),  stmt->Text(5),
                               stmt->Text(6),         stmt->Text(7),         stmt->Int(8),
                               stmt->Int(9),          stmt->OptionalInt(10), stmt->OptionalInt(11),
                               stmt->OptionalText(12)};
      benchmark::DoNotOptimize(view);
      ++rows;
    }
  }
  state.SetItemsProcessed(state.iterations());
  // Per thread: averaged over the threads, not summed.
  state.counters["rows"] =
      benchmark::Counter(static_cast<double>(rows) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_ListSessionsSqliteFloor)
    ->ArgName("limit")
    ->Arg(100)
    ->Arg(1000)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->MinTime(2);

// The broker's handler body without the latest-usage lookup: what HTTPS, auth, routing and the
// usage objects add on top is the difference to BM_ListSessionsHttps.
void BM_ListSessionsInProcess(benchmark::State& state) {
  auto database =
      db::Database::Open(env->broker->database(), {.read_only = true, .busy_timeout_ms = 5000});
  if (!database) return state.SkipWithError(database.error().message().c_str());
  broker::SessionQuery query;
  query.limit = static_cast<int>(state.range(0));
  int64_t bytes = 0;
  for (auto _ : state) {
    auto sessions = broker::ListSessionViews(*database, query);
    if (!sessions) return state.SkipWithError(sessions.error().message().c_str());
    // As the broker renders a page (session_routes.cc), without the usage objects.
    std::string body = "{\"limit\":" + std::to_string(query.limit) + ",\"offset\":0,\"sessions\":[";
    for (size_t i = 0; i < sessions->size(); ++i) {
      if (i > 0) body += ',';
      broker::AppendJson(body, (*sessions)[i], {});
    }
    body += "]}";
    bytes += static_cast<int64_t>(body.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["body_kib"] = benchmark::Counter(
      static_cast<double>(bytes) / static_cast<double>(state.iterations()) / 1024.0,
      benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_ListSessionsInProcess)
    ->ArgName("limit")
    ->Arg(100)
    ->Arg(1000)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->MinTime(2);

// --- usage ingestion ------------------------------------------------------------------------

// moat_usage_ingest_cpu_seconds_total: the CPU the broker's OnUsage handler itself counted.
double IngestHandlerSeconds() {
  net::HttpsClient* client = ClientFor(0);
  if (!client) return -1;
  auto reply = client->Send({.method = "GET", .target = "/metrics", .headers = {}, .body = {}});
  if (!reply) return -1;
  constexpr std::string_view kName = "\nmoat_usage_ingest_cpu_seconds_total ";
  auto at = reply->body.find(kName);
  if (at == std::string::npos) return -1;
  return std::strtod(reply->body.c_str() + at + kName.size(), nullptr);
}

struct Window {
  double seconds = 0;
  double broker_cpu = 0;
  std::map<pid_t, ThreadCpu> threads_before, threads_after;
};

void PrintThreads(const char* title, const Window& w) {
  std::fprintf(stderr, "  %s: broker CPU %.3f s in %.1f s (%.2f %% of one core); by thread:\n",
               title, w.broker_cpu, w.seconds, 100 * w.broker_cpu / w.seconds);
  for (const auto& [tid, after] : w.threads_after) {
    auto before = w.threads_before.find(tid);
    double used = after.seconds - (before == w.threads_before.end() ? 0 : before->second.seconds);
    if (used >= 0.01) {
      std::fprintf(stderr, "    tid %d %-16s %7.2f s  %5.2f %%\n", tid, after.name.c_str(), used,
                   100 * used / w.seconds);
    }
  }
}

Window IdleWindow(int seconds) {
  Window w;
  w.threads_before = ThreadCpuSeconds(env->broker->pid());
  double before = ProcessCpuSeconds(env->broker->pid());
  auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  w.broker_cpu = ProcessCpuSeconds(env->broker->pid()) - before;
  w.threads_after = ThreadCpuSeconds(env->broker->pid());
  w.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return w;
}

// One batch per second at fixed second marks: `at` is base + i seconds, so no two batches share
// a second (a repeated second would replace rows instead of adding them).
Result<Window> IngestWindow(int seconds, uint64_t base_ms, size_t& batch_bytes) {
  Window w;
  w.threads_before = ThreadCpuSeconds(env->broker->pid());
  double before = ProcessCpuSeconds(env->broker->pid());
  auto start = Clock::now();
  for (int i = 0; i < seconds; ++i) {
    std::this_thread::sleep_until(start + std::chrono::seconds(i));
    MOAT_TRY(batch_bytes,
             env->agent->SendUsage(env->sessions, base_ms + 1000ULL * i, ++env->usage_tick));
  }
  std::this_thread::sleep_until(start + std::chrono::seconds(seconds));
  w.broker_cpu = ProcessCpuSeconds(env->broker->pid()) - before;
  w.threads_after = ThreadCpuSeconds(env->broker->pid());
  w.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return w;
}

void BM_UsageIngest(benchmark::State& state) {
  const int seconds = env->flags.ingest_s;
  const int64_t sessions = static_cast<int64_t>(env->sessions.size());
  for (auto _ : state) {
    Window idle = IdleWindow(seconds);
    double handler_before = IngestHandlerSeconds();
    // Whole seconds, after every sample already stored.
    uint64_t base_ms = (NowMs() / 1000 + 2) * 1000;
    size_t batch_bytes = 0;
    auto ingest = IngestWindow(seconds, base_ms, batch_bytes);
    if (!ingest) return state.SkipWithError(ingest.error().message().c_str());
    double handler = IngestHandlerSeconds() - handler_before;
    state.SetIterationTime(ingest->seconds);

    std::string count =
        "SELECT count(*) FROM usage_samples WHERE at >= " + std::to_string(base_ms / 1000);
    int64_t expected = sessions * seconds, landed = 0;
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while ((landed = QueryInt(env->broker->database(), count)) < expected &&
           Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    PrintThreads("idle window", idle);
    PrintThreads("ingest window", *ingest);

    double idle_pct = 100 * idle.broker_cpu / idle.seconds;
    double gross_pct = 100 * ingest->broker_cpu / ingest->seconds;
    state.counters["idle_cpu_pct"] = idle_pct;
    state.counters["ingest_cpu_pct"] = gross_pct;
    state.counters["net_cpu_pct"] = gross_pct - idle_pct;
    state.counters["target_ratio"] = (gross_pct - idle_pct) / 5.0;
    state.counters["handler_cpu_pct"] = 100 * handler / ingest->seconds;
    state.counters["batch_kib"] = static_cast<double>(batch_bytes) / 1024.0;
    state.counters["rows_expected"] = static_cast<double>(expected);
    state.counters["rows_landed"] = static_cast<double>(landed);
    state.counters["agent_requests"] = env->agent->requests_received();
    state.counters["active_sessions"] = static_cast<double>(
        QueryInt(env->broker->database(), "SELECT count(*) FROM sessions WHERE state = 'active'"));
    if (landed != expected) state.SkipWithError("not every usage sample landed");
  }
}
BENCHMARK(BM_UsageIngest)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

// The steps of one batch of 1000 samples, in this process.
void BM_UsageDecode(benchmark::State& state) {
  std::string text = wire::EncodeEnvelope(
      wire::MakeMessage(MakeUsageBatch(env->sessions, NowMs(), ++env->usage_tick)));
  for (auto _ : state) {
    auto envelope = wire::DecodeEnvelope(text);
    if (!envelope) return state.SkipWithError(envelope.error().message().c_str());
    auto batch = wire::DecodeBody<wire::UsageBatch>(*envelope);
    if (!batch) return state.SkipWithError(batch.error().message().c_str());
    benchmark::DoNotOptimize(batch);
  }
  state.counters["batch_kib"] = static_cast<double>(text.size()) / 1024.0;
}
BENCHMARK(BM_UsageDecode)->Unit(benchmark::kMillisecond);

void BM_UsageInsert(benchmark::State& state) {
  auto database = db::Database::Open(env->scratch_db);
  if (!database) return state.SkipWithError(database.error().message().c_str());
  db::UsageStore store(*database);
  uint64_t at_ms = (NowMs() / 1000 + 100000) * 1000;
  for (auto _ : state) {
    state.PauseTiming();
    wire::UsageBatch batch = MakeUsageBatch(env->scratch_sessions, at_ms, ++env->usage_tick);
    at_ms += 1000;
    std::vector<db::UsageSample> rows;
    for (const auto& s : batch.samples) {
      rows.push_back({.session_id = s.session_id,
                      .at = static_cast<std::int64_t>(s.at / 1000),
                      .cpu_usage_us = static_cast<std::int64_t>(s.cpu_usage_us),
                      .cpu_percent = s.cpu_percent,
                      .memory_current = static_cast<std::int64_t>(s.memory_current),
                      .memory_peak = static_cast<std::int64_t>(s.memory_peak),
                      .pids = static_cast<std::int64_t>(s.pids),
                      .io_read_bytes = static_cast<std::int64_t>(s.io_read_bytes),
                      .io_write_bytes = static_cast<std::int64_t>(s.io_write_bytes),
                      .oom_kills = static_cast<std::int64_t>(s.oom_kills)});
    }
    state.ResumeTiming();
    if (auto inserted = store.Insert(rows); !inserted) {
      return state.SkipWithError(inserted.error().message().c_str());
    }
  }
}
BENCHMARK(BM_UsageInsert)->Unit(benchmark::kMillisecond)->MinTime(2);

// What ingestion does per batch beyond storing it: each sample serialised once (kept for the
// listings, reused by the event), then the event (skipped here: no one listens).
void BM_UsageEvent(benchmark::State& state) {
  broker::http::EventHub hub;
  broker::Events events(hub);
  wire::UsageBatch batch = MakeUsageBatch(env->sessions, NowMs(), ++env->usage_tick);
  for (auto _ : state) {
    std::vector<std::string> serialised;
    serialised.reserve(batch.samples.size());
    for (const auto& sample : batch.samples) serialised.push_back(broker::ToJson(sample).dump());
    events.Usage("1", serialised);
    benchmark::DoNotOptimize(serialised.data());
  }
}
BENCHMARK(BM_UsageEvent)->Unit(benchmark::kMillisecond);

// --- set-up ---------------------------------------------------------------------------------

bool ParseFlag(const char* arg, const char* name, std::string& value) {
  size_t length = std::strlen(name);
  if (std::strncmp(arg, name, length) != 0) return false;
  if (arg[length] == '\0') {
    value = "true";
    return true;
  }
  if (arg[length] != '=') return false;
  value = arg + length + 1;
  return true;
}

Flags TakeFlags(int& argc, char** argv) {
  Flags flags;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string value;
    if (ParseFlag(argv[i], "--bench_sessions", value)) {
      flags.sessions = std::stoi(value);
    } else if (ParseFlag(argv[i], "--bench_ingest_s", value)) {
      flags.ingest_s = std::stoi(value);
    } else if (ParseFlag(argv[i], "--bench_seed_sql", value)) {
      flags.seed_sql = value;
    } else if (ParseFlag(argv[i], "--bench_keep_state", value)) {
      flags.keep_state = value != "false";
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return flags;
}

Status SetUp(Env& e) {
  char pattern[] = "/tmp/moat-bench-api.XXXXXX";
  if (!::mkdtemp(pattern)) return Fail(ErrnoError("mkdtemp", pattern));
  e.dir = pattern;
  std::filesystem::path state = e.dir / "state";
  std::filesystem::create_directories(state);
  auto seed_start = Clock::now();
  MOAT_TRY(e.sessions,
           SeedDatabase(state / "moat.db",
                        {.sessions = e.flags.sessions, .users = 10, .host_name = "bench-host"}));
  if (!e.flags.seed_sql.empty()) {
    MOAT_TRY(db::Database database, db::Database::Open(state / "moat.db"));
    MOAT_TRY_VOID(database.Exec(e.flags.seed_sql));
    std::fprintf(stderr, "ran on the seeded database: %s\n", e.flags.seed_sql.c_str());
  }
  e.scratch_db = e.dir / "scratch.db";
  MOAT_TRY(e.scratch_sessions,
           SeedDatabase(e.scratch_db,
                        {.sessions = e.flags.sessions, .users = 10, .host_name = "bench-host"}));
  std::fprintf(stderr, "seeded %d sessions (all active) in %.1f s\n", e.flags.sessions,
               std::chrono::duration<double>(Clock::now() - seed_start).count());
  MOAT_TRY(e.broker, BrokerProcess::Start(MOAT_BENCH_BROKER_PATH, state));
  MOAT_TRY(e.token, e.broker->Login("admin", e.broker->admin_password()));
  MOAT_TRY(e.agent, FakeAgent::Enrol(*e.broker, e.token, "bench-host"));
  MOAT_TRY_VOID(e.agent->SendHello(e.sessions));
  // Reconciliation, then one batch so that every listed session has its latest usage.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  MOAT_TRY(size_t bytes, e.agent->SendUsage(e.sessions, NowMs(), ++e.usage_tick));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  int64_t active =
      QueryInt(e.broker->database(), "SELECT count(*) FROM sessions WHERE state = 'active'");
  if (active != e.flags.sessions) {
    return Fail(InvalidArgument("after the hello " + std::to_string(active) + " of " +
                                std::to_string(e.flags.sessions) + " sessions are active"));
  }
  std::fprintf(stderr,
               "moat-broker pid %d at %s (agents on port %u), fake agent online, %zu KiB usage "
               "batch ingested\n",
               e.broker->pid(), e.broker->api_url().c_str(), e.broker->agent_port(), bytes / 1024);
  return {};
}

}  // namespace
}  // namespace moat::bench

int main(int argc, char** argv) {
  using namespace moat::bench;
  Flags flags = TakeFlags(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Env e;
  e.flags = flags;
  env = &e;
  if (auto set_up = SetUp(e); !set_up) {
    std::fprintf(stderr, "moat-bench-api: %s\n", set_up.error().message().c_str());
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  e.clients.clear();
  e.agent.reset();
  e.broker.reset();
  std::error_code ec;
  if (!flags.keep_state) std::filesystem::remove_all(e.dir, ec);
  return 0;
}
