#include "moat/sandbox/session_spec.h"

#include <gtest/gtest.h>

namespace moat::sandbox {
namespace {

TEST(SessionSpec, ParsesEveryKey) {
  auto spec = ParseSessionSpecJson(R"({"id":"s1","user":"nobody","root":"/","hostname":"h",
    "mounts":[{"source":"/usr","target":"/x","read_only":true}],"upper_size_bytes":1048576,
    "seccomp_profile":"default","env":{"A":"b"},"limits":{"pids_max":10,"cpu_percent":25.5},
    "host_dirs":["display"]})");
  ASSERT_TRUE(spec) << spec.error().message();
  EXPECT_EQ(spec->id, "s1");
  EXPECT_EQ(spec->mounts.size(), 1u);
  EXPECT_EQ(*spec->limits.pids_max, 10u);
  EXPECT_DOUBLE_EQ(*spec->limits.cpu_percent, 25.5);
  auto again = ParseSessionSpecJson(SessionSpecToJson(*spec));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->env.at("A"), "b");
  EXPECT_EQ(again->host_dirs, std::vector<std::string>{"display"});
}

TEST(SessionSpec, HostDirsMustBePlainDistinctNames) {
  SessionSpec spec;
  spec.user = "nobody";
  spec.host_dirs = {"display", "audio-1"};
  EXPECT_TRUE(ValidateSessionSpec(spec)) << ValidateSessionSpec(spec).error().message();
  for (const char* bad : {"", "root", "../x", "a/b", "Display", "1x", ".", "-a"}) {
    spec.host_dirs = {bad};
    EXPECT_FALSE(ValidateSessionSpec(spec)) << bad;
  }
  spec.host_dirs = {"display", "display"};
  EXPECT_FALSE(ValidateSessionSpec(spec));
  EXPECT_FALSE(ParseSessionSpecJson(R"({"host_dirs":"display"})"));
}

// Devices are kernel attack surface handed to a session: /dev/kvm (a VM's QEMU) and nothing
// else, once.
TEST(SessionSpec, OnlyKvmMayEnterAWallAsADevice) {
  auto spec = ParseSessionSpecJson(R"({"user":"nobody","devices":["/dev/kvm"]})");
  ASSERT_TRUE(spec) << spec.error().message();
  EXPECT_TRUE(ValidateSessionSpec(*spec));
  auto again = ParseSessionSpecJson(SessionSpecToJson(*spec));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->devices, std::vector<std::string>{"/dev/kvm"});
  for (const char* bad : {"/dev/mem", "/dev/sda", "/dev/../dev/kvm", "kvm", "/dev/kvm/"}) {
    spec->devices = {bad};
    EXPECT_FALSE(ValidateSessionSpec(*spec)) << bad;
  }
  spec->devices = {"/dev/kvm", "/dev/kvm"};
  EXPECT_FALSE(ValidateSessionSpec(*spec));
}

TEST(SessionSpec, RejectsUnknownKeysWrongTypesAndBadJson) {
  EXPECT_FALSE(ParseSessionSpecJson(R"({"usr":"x"})"));
  EXPECT_FALSE(ParseSessionSpecJson(R"({"user":5})"));
  EXPECT_FALSE(ParseSessionSpecJson(R"({"mounts":{}})"));
  EXPECT_FALSE(ParseSessionSpecJson(R"({"limits":{"cpu":1}})"));
  EXPECT_FALSE(ParseSessionSpecJson("{"));
  EXPECT_FALSE(ParseSessionSpecJson("[]"));
  auto error = ParseSessionSpecJson(R"({"usr":"x"})").error().message();
  EXPECT_NE(error.find("'usr'"), std::string::npos) << error;
  // Numbers that a lenient reader would convert silently, each named by its key.
  for (const char* text : {R"({"upper_size_bytes":-1})", R"({"upper_size_bytes":1.5e9})",
                           R"({"limits":{"memory_max":18446744073709551615}})",
                           R"({"limits":{"pids_max":-3}})", R"({"mounts":[{"source":"/usr"}]})"}) {
    auto parsed = ParseSessionSpecJson(text);
    ASSERT_FALSE(parsed) << text;
    const std::string message = parsed.error().message();
    bool names_it = message.find("upper_size_bytes") != std::string::npos ||
                    message.find("memory_max") != std::string::npos ||
                    message.find("pids_max") != std::string::npos ||
                    message.find("'target'") != std::string::npos;
    EXPECT_TRUE(names_it) << text << ": " << message;
  }
}

TEST(SessionSpec, HostnamesAreRfc1123) {
  SessionSpec spec;
  spec.user = "nobody";
  for (const char* good : {"desk-1", "a.b.example", "x"}) {
    spec.hostname = good;
    EXPECT_TRUE(ValidateSessionSpec(spec)) << good;
  }
  for (const char* bad : {"-..-", "-a", "a-", "a..b", ".a", "a.", "a b"}) {
    spec.hostname = bad;
    EXPECT_FALSE(ValidateSessionSpec(spec)) << bad;
  }
}

TEST(SessionSpec, ValidationRefusesRootUnknownUsersAndBadPaths) {
  SessionSpec spec;
  spec.user = "root";
  EXPECT_FALSE(ValidateSessionSpec(spec));
  spec.user = "no-such-user-moat";
  EXPECT_FALSE(ValidateSessionSpec(spec));
  spec.user = "nobody";
  EXPECT_TRUE(ValidateSessionSpec(spec)) << ValidateSessionSpec(spec).error().message();
  spec.mounts = {{"/usr", "/x/../etc", true}};
  EXPECT_FALSE(ValidateSessionSpec(spec));
  spec.mounts = {{"/usr", "/proc/x", true}};
  EXPECT_FALSE(ValidateSessionSpec(spec));
  spec.mounts = {{"/nonexistent-moat", "/x", true}};
  EXPECT_FALSE(ValidateSessionSpec(spec));
  spec.mounts.clear();
  spec.id = "Bad_Id";
  EXPECT_FALSE(ValidateSessionSpec(spec));
  spec.id = "ok-1";
  spec.hostname = "bad host";
  EXPECT_FALSE(ValidateSessionSpec(spec));
  spec.hostname = "";
  spec.upper_size_bytes = 10;
  EXPECT_FALSE(ValidateSessionSpec(spec));
}

TEST(SessionSpec, GeneratedIdsAreValidAndDiffer) {
  auto a = GenerateSessionId(), b = GenerateSessionId();
  EXPECT_TRUE(IsValidSessionId(a));
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace moat::sandbox
