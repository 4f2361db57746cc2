#include "agent_options.h"

#include <gtest/gtest.h>

namespace moat::agent {
namespace {

TEST(AgentOptions, StdioWithRunDirAndDelegatedParent) {
  auto options =
      ParseAgentOptions({"--run-dir", "/run/x", "--cgroup-parent", "delegated", "--stdio"});
  ASSERT_TRUE(options) << options.error().message();
  EXPECT_EQ(options->run_dir, "/run/x");
  EXPECT_EQ(options->cgroup_parent, "delegated");
  EXPECT_EQ(options->mode, Mode::kStdio);
}

TEST(AgentOptions, DefaultsWithOnceList) {
  auto options = ParseAgentOptions({"--once-list"});
  ASSERT_TRUE(options);
  EXPECT_EQ(options->run_dir, "/run/moat");
  EXPECT_EQ(options->cgroup_parent, "moat");
  EXPECT_EQ(options->mode, Mode::kOnceList);
}

TEST(AgentOptions, RefusesNoModeTwoModesUnknownFlagsAndMissingValues) {
  EXPECT_FALSE(ParseAgentOptions({}));
  EXPECT_FALSE(ParseAgentOptions({"--stdio", "--once-list"}));
  EXPECT_FALSE(ParseAgentOptions({"--stdio", "--broker"}));
  EXPECT_FALSE(ParseAgentOptions({"--stdio", "--run-dir"}));
}

}  // namespace
}  // namespace moat::agent
