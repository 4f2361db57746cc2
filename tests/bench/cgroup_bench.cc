// Resource control costs (issue 4): applying a limit change, and one sampling pass over 1, 100
// and 1000 session groups created for real. The peer in the same run is the naive sampler
// (open, read, close every file on every pass), which is what a shell loop or cgtop does.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "moat/sandbox/cgroup_driver.h"
#include "moat/sandbox/usage_sampler.h"

namespace {

using moat::sandbox::CgroupDriver;
using moat::sandbox::CgroupOptions;
using moat::sandbox::Limits;

// Sessions live under a parent of their own so the bench never touches real sessions.
std::unique_ptr<CgroupDriver> BenchDriver() {
  CgroupOptions options;
  char parent[64];  // snprintf, not string concatenation: GCC 12 -O3 warns (-Wrestrict) on it
  std::snprintf(parent, sizeof(parent), "moat-bench-cg-%d", static_cast<int>(getpid()));
  options.parent = parent;
  auto driver = CgroupDriver::Detect(options);
  if (!driver) return nullptr;
  return std::move(*driver);
}

// N real groups shaped like sessions (a group with an "init" leaf), removed on destruction.
class Groups {
 public:
  Groups(CgroupDriver& driver, int count) : driver_(driver) {
    for (int i = 0; i < count; ++i) {
      char group[32];
      std::snprintf(group, sizeof(group), "s%d", i);
      char init[48];
      std::snprintf(init, sizeof(init), "%s/init", group);
      if (driver_.Create(init)) names_.push_back(group);
    }
  }
  ~Groups() {
    for (const auto& name : names_) (void)driver_.Destroy(name);
    (void)driver_.Destroy("");
  }
  const std::vector<std::string>& names() const { return names_; }

 private:
  CgroupDriver& driver_;
  std::vector<std::string> names_;
};

void BM_LimitChange(benchmark::State& state) {
  auto driver = BenchDriver();
  if (!driver) return state.SkipWithError("no cgroup driver (run as root)");
  Groups groups(*driver, 1);
  if (groups.names().empty()) return state.SkipWithError("could not create a group");
  bool high = false;
  for (auto _ : state) {
    Limits limits;
    limits.cpu_percent = high ? 80.0 : 20.0;
    limits.memory_max = high ? (512ull << 20) : (256ull << 20);
    high = !high;
    auto applied = driver->Apply(groups.names()[0], limits);
    if (!applied) return state.SkipWithError(applied.error().message().c_str());
  }
  state.SetLabel(driver->Version());
}
BENCHMARK(BM_LimitChange)->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime()->UseRealTime();

void BM_SamplePassNaive(benchmark::State& state) {
  auto driver = BenchDriver();
  if (!driver) return state.SkipWithError("no cgroup driver (run as root)");
  Groups groups(*driver, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    for (const auto& name : groups.names()) benchmark::DoNotOptimize(driver->Usage(name));
  }
  state.counters["sessions"] = static_cast<double>(groups.names().size());
}
BENCHMARK(BM_SamplePassNaive)
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime();

void BM_SamplePassSampler(benchmark::State& state) {
  auto driver = BenchDriver();
  if (!driver) return state.SkipWithError("no cgroup driver (run as root)");
  Groups groups(*driver, static_cast<int>(state.range(0)));
  moat::sandbox::UsageSampler sampler(*driver);
  for (const auto& name : groups.names()) {
    if (!sampler.Track(name)) return state.SkipWithError("track failed");
  }
  for (auto _ : state) benchmark::DoNotOptimize(sampler.SampleAll());
  state.counters["sessions"] = static_cast<double>(sampler.size());
}
BENCHMARK(BM_SamplePassSampler)
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
