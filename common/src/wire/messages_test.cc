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
  SessionCreate create{"s1", "alice", Backend::kVm, FullLimits(), false};
  EXPECT_EQ(RoundTrip(create), create);
  SessionCreate bare{"s2", "bob", Backend::kSandbox, {}, true};
  EXPECT_EQ(RoundTrip(bare), bare);
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

struct MalformedBody {
  const char* type;
  const char* body;
  const char* error;  // after "decode 'TYPE': "
};

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
                      "'body.capacity.cpus' must be a whole number >= 0"}));

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
