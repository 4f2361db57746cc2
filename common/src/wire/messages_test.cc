#include "moat/common/wire/messages.h"

#include <gtest/gtest.h>

namespace moat::wire {
namespace {

template <typename T>
T RoundTrip(const T& body) {
  std::string text = EncodeEnvelope(MakeMessage(body));
  auto envelope = DecodeEnvelope(text);
  EXPECT_TRUE(envelope) << envelope.error().message();
  auto decoded = DecodeBody<T>(*envelope);
  EXPECT_TRUE(decoded) << decoded.error().message() << "\n" << text;
  return decoded ? *decoded : T{};
}

SessionLimits FullLimits() {
  SessionLimits limits;
  limits.cpu_percent = 150.5;
  limits.cpu_weight = 200;
  limits.memory_max = 2ull << 30;
  limits.memory_high = kUnlimited;
  limits.swap_max = 0;
  limits.pids_max = 512;
  limits.io_weight = 100;
  limits.io_devices.push_back({"8:0", 10 << 20, kUnlimited, std::nullopt, 300});
  return limits;
}

TEST(Messages, SessionCreateRoundTrips) {
  SessionCreate create{"s1", "alice", Backend::kVm, FullLimits(), false, "800x600", 24};
  EXPECT_EQ(RoundTrip(create), create);
  SessionCreate bare{"s2", "bob", Backend::kSandbox, {}, true, std::nullopt, std::nullopt};
  EXPECT_EQ(RoundTrip(bare), bare);
  EXPECT_FALSE(ToJson(bare).contains("geometry")) << "unset display fields are not sent";
  SessionCreate sized = bare;
  sized.geometry = "1920x1080";
  sized.depth = 16;
  EXPECT_EQ(RoundTrip(sized), sized);
}

TEST(Messages, LimitsUseTheSandboxKeysAndMax) {
  SessionLimits limits;
  limits.cpu_percent = kNoCpuCap;
  limits.memory_max = kUnlimited;
  limits.pids_max = 64;
  EXPECT_EQ(ToJson(limits), Json::parse(R"({"cpu_percent":"max","memory_max":"max",
                                              "pids_max":64})"));
  auto back = SessionLimitsFromJson(ToJson(limits), "limits");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, limits);
}

TEST(Messages, SessionSetLimitsRoundTrips) {
  SessionSetLimits set{"s1", FullLimits()};
  EXPECT_EQ(RoundTrip(set), set);
}

TEST(Messages, SessionActionRoundTrips) {
  for (auto kind :
       {SessionActionKind::kSuspend, SessionActionKind::kResume, SessionActionKind::kEnd}) {
    SessionAction action{"s-7", kind};
    EXPECT_EQ(RoundTrip(action), action);
  }
}

TEST(Messages, UsageBatchRoundTrips) {
  UsageSample full{"s1",
                   1764160200123,
                   123456789,
                   37.5,
                   1ull << 30,
                   2ull << 30,
                   17,
                   1000,
                   2000,
                   3,
                   4,
                   1,
                   Pressure{1.5, 2.25, 0.5, 0.0}};
  UsageSample no_psi{"s2", 1764160200123, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {}};
  UsageBatch batch{{full, no_psi}};
  EXPECT_EQ(RoundTrip(batch), batch);
  EXPECT_EQ(RoundTrip(UsageBatch{}), UsageBatch{});
}

TEST(Messages, NonFiniteRatesAreSentAsZero) {
  UsageSample sample{"s1",
                     1,
                     0,
                     std::numeric_limits<double>::quiet_NaN(),
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     0,
                     Pressure{std::numeric_limits<double>::infinity(), {}, {}, {}}};
  UsageBatch decoded = RoundTrip(UsageBatch{{sample}});
  ASSERT_EQ(decoded.samples.size(), 1u);
  EXPECT_EQ(decoded.samples[0].cpu_percent, 0.0);
  EXPECT_EQ(decoded.samples[0].psi.cpu, 0.0);
}

TEST(Messages, HostHelloRoundTrips) {
  HostHello hello{"0.1.0",
                  "host-a",
                  {8, 32ull << 30, 50},
                  {Backend::kSandbox, Backend::kVm},
                  {{"s1", "alice", Backend::kSandbox, RunningState::kRunning},
                   {"s2", "bob", Backend::kVm, RunningState::kSuspended}}};
  EXPECT_EQ(RoundTrip(hello), hello);
}

TEST(Messages, DecodeBodyChecksTypeAndErrorReplies) {
  Envelope message = MakeMessage(SessionAction{"s1", SessionActionKind::kEnd});
  auto wrong = DecodeBody<SessionCreate>(message);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message(), "expected a 'session.create' message, got 'session.action'");
  auto error = DecodeBody<SessionAction>(MakeErrorReply(message, "not_found", "no session 's1'"));
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().message(), "'session.action' failed: not_found: no session 's1'");
}

TEST(Messages, AppLaunchRoundTrips) {
  AppLaunch full{"s1", {"/usr/bin/sleep", "300"}, {"A=1", "B="}, "/tmp", 25.5};
  EXPECT_EQ(RoundTrip(full), full);
  AppLaunch bare{"s1", {"xterm"}, {}, std::nullopt, std::nullopt};
  EXPECT_EQ(RoundTrip(bare), bare);
  EXPECT_EQ(ToJson(bare), Json::parse(R"({"session_id":"s1","argv":["xterm"],"env":[]})"));
}

TEST(Messages, AppLaunchEnvIsOptional) {
  auto launch = BodyFromJson<AppLaunch>(Json::parse(R"({"session_id":"s1","argv":["sh"]})"));
  ASSERT_TRUE(launch) << launch.error().message();
  EXPECT_TRUE(launch->env.empty());
  EXPECT_FALSE(launch->cwd);
  EXPECT_FALSE(launch->app_cpu_percent);
}

TEST(Messages, AppRepliesRoundTrip) {
  AppLaunched launched{"s1", 42, "app-3"};
  EXPECT_EQ(RoundTrip(launched), launched);
  ProcessList list{"s1",
                   {{1, 0, 0, "", "/usr/lib/moat/moat-init", "S", 1 << 20, 12},
                    {42, 1, 1000, "app-3", "sleep 300", "S", 700 << 10, 0}}};
  EXPECT_EQ(RoundTrip(list), list);
  EXPECT_EQ(RoundTrip(ProcessList{"s1", {}}), (ProcessList{"s1", {}}));
  AppKilled killed{"s1", 42};
  EXPECT_EQ(RoundTrip(killed), killed);
}

TEST(Messages, AppPsAndKillRoundTrip) {
  EXPECT_EQ(RoundTrip(AppPs{"s1"}), AppPs{"s1"});
  AppKill kill{"s1", 42, 9};
  EXPECT_EQ(RoundTrip(kill), kill);
  auto defaulted = BodyFromJson<AppKill>(Json::parse(R"({"session_id":"s1","pid":42})"));
  ASSERT_TRUE(defaulted) << defaulted.error().message();
  EXPECT_EQ(defaulted->signal, 15);
}

TEST(Messages, SessionGetLimitsRoundTrips) {
  SessionGetLimits session{"s1", std::nullopt};
  EXPECT_EQ(RoundTrip(session), session);
  SessionGetLimits app{"s1", "app-12"};
  EXPECT_EQ(RoundTrip(app), app);
  SessionLimitsReport report{"s1", "app-12", FullLimits()};
  EXPECT_EQ(RoundTrip(report), report);
  SessionLimitsReport whole{"s1", std::nullopt, {}};
  EXPECT_EQ(RoundTrip(whole), whole);
}

TEST(Messages, ReplyDecodesUnderItsRequestsType) {
  AppLaunch launch{"s1", {"sleep", "1"}, {}, std::nullopt, std::nullopt};
  Envelope request = MakeMessage(launch);
  Envelope reply = MakeReply(request, ToJson(AppLaunched{"s1", 7, "app-1"}));
  auto decoded = DecodeBody<AppLaunched>(reply);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->pid, 7u);
}

struct MalformedBody {
  const char* type;
  const char* body;
  const char* error;  // after "decode 'TYPE': "
};

auto AsDecodeError(const Envelope& envelope) {
  return [&](Error error) { return std::move(error).Wrap("decode '" + envelope.type + "'"); };
}

Result<void> DecodeAny(const Envelope& envelope) {
  if (envelope.type == SessionCreate::kType)
    return DecodeBody<SessionCreate>(envelope).map([](auto&&) {});
  if (envelope.type == SessionSetLimits::kType) {
    return DecodeBody<SessionSetLimits>(envelope).map([](auto&&) {});
  }
  if (envelope.type == SessionAction::kType)
    return DecodeBody<SessionAction>(envelope).map([](auto&&) {});
  if (envelope.type == UsageBatch::kType)
    return DecodeBody<UsageBatch>(envelope).map([](auto&&) {});
  if (envelope.type == AppLaunch::kType) return DecodeBody<AppLaunch>(envelope).map([](auto&&) {});
  if (envelope.type == AppPs::kType) return DecodeBody<AppPs>(envelope).map([](auto&&) {});
  if (envelope.type == AppKill::kType) return DecodeBody<AppKill>(envelope).map([](auto&&) {});
  if (envelope.type == SessionGetLimits::kType) {
    return DecodeBody<SessionGetLimits>(envelope).map([](auto&&) {});
  }
  // Reply bodies, under a made-up type that names the struct.
  if (envelope.type == "reply.app_launched") {
    return BodyFromJson<AppLaunched>(envelope.body)
        .map([](auto&&) {})
        .map_error(AsDecodeError(envelope));
  }
  if (envelope.type == "reply.process_list") {
    return BodyFromJson<ProcessList>(envelope.body)
        .map([](auto&&) {})
        .map_error(AsDecodeError(envelope));
  }
  return DecodeBody<HostHello>(envelope).map([](auto&&) {});
}

class MessagesMalformed : public ::testing::TestWithParam<MalformedBody> {};

TEST_P(MessagesMalformed, IsRejectedWithClearError) {
  const auto& param = GetParam();
  Envelope envelope{param.type, "1", std::nullopt, Json::parse(param.body), std::nullopt};
  auto status = DecodeAny(envelope);
  ASSERT_FALSE(status) << param.body;
  EXPECT_EQ(status.error().message(), std::string("decode '") + param.type + "': " + param.error);
}

constexpr char kSample[] =
    R"("session_id":"s1","at":1,"cpu_usage_us":1,"cpu_percent":1,"memory_current":1,)"
    R"("memory_peak":1,"pids":1,"io_read_bytes":1,"io_write_bytes":1,"io_read_ops":1,)"
    R"("io_write_ops":1,"oom_kills":0)";

INSTANTIATE_TEST_SUITE_P(
    Table, MessagesMalformed,
    ::testing::Values(
        MalformedBody{"session.create", R"({"user":"a","backend":"sandbox","desktop":true})",
                      "missing 'body.session_id'"},
        MalformedBody{"session.create",
                      R"({"session_id":"S1","user":"a","backend":"sandbox","desktop":true})",
                      "'body.session_id' must match [a-z0-9][a-z0-9-]{0,31}"},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"","backend":"sandbox","desktop":true})",
                      "'body.user' must not be empty"},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"lxc","desktop":true})",
                      "'body.backend' must be \"sandbox\" or \"vm\", not 'lxc'"},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"vm","desktop":"yes"})",
                      "'body.desktop' must be true or false"},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"vm","desktop":true,"gpu":1})",
                      "unknown key 'body.gpu'"},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"vm","desktop":true,
                          "limits":{"memory_max":-1}})",
                      "'body.limits.memory_max' must be a whole number >= 0 or \"max\""},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"vm","desktop":true,
                          "limits":{"cpu_percent":"lots"}})",
                      "'body.limits.cpu_percent' must be a number >= 0 or \"max\""},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"vm","desktop":true,
                          "limits":{"memory":1}})",
                      "unknown key 'body.limits.memory'"},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"vm","desktop":true,
                          "limits":{"io_devices":[{"device":"8:0","read_bps":1.5}]}})",
                      "'body.limits.io_devices[0].read_bps' must be a whole number >= 0 or "
                      "\"max\""},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"sandbox","desktop":true,
                          "geometry":"1280X800"})",
                      "'body.geometry' must be WIDTHxHEIGHT, each 320..8192, not '1280X800'"},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"sandbox","desktop":true,
                          "geometry":"100x800"})",
                      "'body.geometry' must be WIDTHxHEIGHT, each 320..8192, not '100x800'"},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"sandbox","desktop":true,
                          "geometry":"1280x-800"})",
                      "'body.geometry' must be WIDTHxHEIGHT, each 320..8192, not '1280x-800'"},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"sandbox","desktop":true,
                          "geometry":1280})",
                      "'body.geometry' must be a string"},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"sandbox","desktop":true,
                          "depth":8})",
                      "'body.depth' must be 16 or 24, not 8"},
        MalformedBody{"session.create",
                      R"({"session_id":"s1","user":"a","backend":"sandbox","desktop":true,
                          "depth":"24"})",
                      "'body.depth' must be a whole number >= 0"},
        MalformedBody{"session.set_limits", R"({"session_id":"s1"})", "missing 'body.limits'"},
        MalformedBody{"session.set_limits", R"({"session_id":"s1","limits":[]})",
                      "'body.limits' must be an object"},
        MalformedBody{"session.action", R"({"session_id":"s1","action":"pause"})",
                      "'body.action' must be \"suspend\", \"resume\" or \"end\", not 'pause'"},
        MalformedBody{"session.action", R"({"session_id":"s1"})", "missing 'body.action'"},
        MalformedBody{"usage.batch", R"({})", "missing 'body.samples'"},
        MalformedBody{"usage.batch", R"({"samples":{}})", "'body.samples' must be an array"},
        MalformedBody{"usage.batch", R"({"samples":[1]})", "'body.samples[0]' must be an object"},
        MalformedBody{"usage.batch",
                      R"({"samples":[{"session_id":"s1","at":1,"cpu_usage_us":1,"cpu_percent":1,
                          "memory_current":1,"memory_peak":1,"pids":-3}]})",
                      "'body.samples[0].pids' must be a whole number >= 0"},
        MalformedBody{"usage.batch",
                      R"({"samples":[{"session_id":"s1","at":1,"cpu_usage_us":1,"cpu_percent":1,
                          "memory_current":1,"memory_peak":1,"pids":1,"io_read_bytes":1,
                          "io_write_bytes":1,"io_read_ops":1,"io_write_ops":1,"oom_kills":0,
                          "psi":{"cpu":"high"}}]})",
                      "'body.samples[0].psi.cpu' must be a number"},
        MalformedBody{"usage.batch",
                      R"({"samples":[{"session_id":"s1","at":1,"cpu_usage_us":1,"cpu_percent":1,
                          "memory_current":1,"memory_peak":1,"pids":1,"io_read_bytes":1,
                          "io_write_bytes":1,"io_read_ops":1,"io_write_ops":1,"oom_kills":0,
                          "swap":1}]})",
                      "unknown key 'body.samples[0].swap'"},
        MalformedBody{"host.hello",
                      R"({"agent_version":"1","host_name":"h","backends":[],"sessions":[]})",
                      "missing 'body.capacity'"},
        MalformedBody{"host.hello",
                      R"({"agent_version":"1","host_name":"h","backends":["qemu"],"sessions":[],
                          "capacity":{"cpus":1,"memory_bytes":1,"max_sessions":1}})",
                      "'body.backends[0]' must be \"sandbox\" or \"vm\""},
        MalformedBody{"host.hello",
                      R"({"agent_version":"1","host_name":"h","backends":[],
                          "capacity":{"cpus":1,"memory_bytes":1,"max_sessions":1},
                          "sessions":[{"session_id":"s1","user":"a","backend":"vm",
                                       "state":"zombie"}]})",
                      "'body.sessions[0].state' must be \"running\" or \"suspended\", not "
                      "'zombie'"},
        MalformedBody{"host.hello",
                      R"({"agent_version":"1","host_name":"h","backends":[],"sessions":[],
                          "capacity":{"cpus":"8","memory_bytes":1,"max_sessions":1}})",
                      "'body.capacity.cpus' must be a whole number >= 0"},
        MalformedBody{"app.launch", R"({"session_id":"s1"})", "missing 'body.argv'"},
        MalformedBody{"app.launch", R"({"session_id":"s1","argv":[]})",
                      "'body.argv' must name at least the program"},
        MalformedBody{"app.launch", R"({"session_id":"s1","argv":[""]})",
                      "'body.argv[0]' must not be empty"},
        MalformedBody{"app.launch", R"({"session_id":"s1","argv":"sleep 1"})",
                      "'body.argv' must be an array of strings"},
        MalformedBody{"app.launch", R"({"session_id":"s1","argv":["sleep",1]})",
                      "'body.argv[1]' must be a string"},
        MalformedBody{"app.launch", R"({"session_id":"s1","argv":["a\u0000b"]})",
                      "'body.argv[0]' must not contain NUL"},
        MalformedBody{"app.launch", R"({"session_id":"s1","argv":["sh"],"env":["=x"]})",
                      "'body.env[0]' must be \"NAME=value\", not '=x'"},
        MalformedBody{"app.launch", R"({"session_id":"s1","argv":["sh"],"env":["PATH"]})",
                      "'body.env[0]' must be \"NAME=value\", not 'PATH'"},
        MalformedBody{"app.launch", R"({"session_id":"s1","argv":["sh"],"cwd":"tmp"})",
                      "'body.cwd' must be an absolute path, not 'tmp'"},
        MalformedBody{"app.launch", R"({"session_id":"s1","argv":["sh"],"app_cpu_percent":0})",
                      "'body.app_cpu_percent' must be a number > 0"},
        MalformedBody{"app.launch", R"({"session_id":"s1","argv":["sh"],"app_cpu_percent":"max"})",
                      "'body.app_cpu_percent' must be a number"},
        MalformedBody{"app.launch", R"({"session_id":"s1","argv":["sh"],"tty":true})",
                      "unknown key 'body.tty'"},
        MalformedBody{"app.ps", R"({})", "missing 'body.session_id'"},
        MalformedBody{"app.ps", R"({"session_id":"s1","all":true})", "unknown key 'body.all'"},
        MalformedBody{"app.kill", R"({"session_id":"s1"})", "missing 'body.pid'"},
        MalformedBody{"app.kill", R"({"session_id":"s1","pid":0})",
                      "'body.pid' must be a process id 1..4194304"},
        MalformedBody{"app.kill", R"({"session_id":"s1","pid":"42"})",
                      "'body.pid' must be a process id 1..4194304"},
        MalformedBody{"app.kill", R"({"session_id":"s1","pid":42,"signal":0})",
                      "'body.signal' must be a signal number 1..64"},
        MalformedBody{"app.kill", R"({"session_id":"s1","pid":42,"signal":99})",
                      "'body.signal' must be a signal number 1..64"},
        MalformedBody{"app.kill", R"({"session_id":"s1","pid":42,"signal":-9})",
                      "'body.signal' must be a signal number 1..64"},
        MalformedBody{"app.kill", R"({"session_id":"s1","pid":42,"signal":"TERM"})",
                      "'body.signal' must be a signal number 1..64"},
        MalformedBody{"session.get_limits", R"({"session_id":"s1","app":"3"})",
                      "'body.app' must be \"app-N\", not '3'"},
        MalformedBody{"session.get_limits", R"({"session_id":"s1","app":"app-"})",
                      "'body.app' must be \"app-N\", not 'app-'"},
        MalformedBody{"session.get_limits", R"({"session_id":"s1","limits":{}})",
                      "unknown key 'body.limits'"},
        MalformedBody{"reply.app_launched", R"({"session_id":"s1","pid":7})", "missing 'body.app'"},
        MalformedBody{"reply.process_list",
                      R"({"session_id":"s1","processes":[{"pid":1,"ppid":0,"uid":0,"app":"",
                          "command":"init","state":"S","rss_bytes":1,"cpu_time_ms":1,
                          "cwd":"/"}]})",
                      "unknown key 'body.processes[0].cwd'"}));

TEST(Messages, SampleTemplateInTableIsValid) {
  // Guards the table above: the complete sample it is derived from decodes.
  Envelope envelope{"usage.batch", "1", std::nullopt,
                    Json::parse(std::string(R"({"samples":[{)") + kSample + "}]}"), std::nullopt};
  auto batch = DecodeBody<UsageBatch>(envelope);
  ASSERT_TRUE(batch) << batch.error().message();
  EXPECT_EQ(batch->samples.size(), 1u);
}

}  // namespace
}  // namespace moat::wire
