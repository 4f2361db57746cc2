#include "agent_options.h"

#include <gtest/gtest.h>

#include "desktop_launcher.h"

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

TEST(AgentOptions, DesktopStartupAndWindowManager) {
  auto defaults = ParseAgentOptions({"--stdio"});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->desktop_startup, std::vector<std::string>{"xterm"});
  EXPECT_EQ(defaults->window_manager, "openbox");
  auto set = ParseAgentOptions(
      {"--stdio", "--desktop-startup", "xterm  -fg green", "--window-manager", "/usr/bin/icewm"});
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->desktop_startup, (std::vector<std::string>{"xterm", "-fg", "green"}));
  EXPECT_EQ(set->window_manager, "/usr/bin/icewm");
  EXPECT_FALSE(ParseAgentOptions({"--stdio", "--desktop-startup", "  "}));
  EXPECT_FALSE(ParseAgentOptions({"--stdio", "--desktop-startup"}));
  EXPECT_FALSE(ParseAgentOptions({"--stdio", "--window-manager", ""}));
  // What says the window manager is ready.
  EXPECT_EQ(WindowManagerReadyProperty("openbox"), "_OB_THEME");
  EXPECT_EQ(WindowManagerReadyProperty("/usr/bin/openbox"), "_OB_THEME");
  EXPECT_EQ(WindowManagerReadyProperty("icewm"), "_NET_SUPPORTING_WM_CHECK");
}

TEST(AgentOptions, VmGuestDirectory) {
  auto options = ParseAgentOptions({"--vm-guest", "/var/lib/moat/guest", "--stdio"});
  ASSERT_TRUE(options) << options.error().message();
  EXPECT_EQ(options->vm_guest, "/var/lib/moat/guest");
  EXPECT_TRUE(ParseAgentOptions({"--vm-guest", "none", "--stdio"}));
  EXPECT_FALSE(ParseAgentOptions({"--stdio", "--vm-guest"}));
  // Unset: the agent falls back to $MOAT_VM_GUEST, then /var/cache/moat-vm/guest.
  EXPECT_TRUE(ParseAgentOptions({"--stdio"})->vm_guest.empty());
}

TEST(AgentOptions, RefusesNoModeTwoModesUnknownFlagsAndMissingValues) {
  EXPECT_FALSE(ParseAgentOptions({}));
  EXPECT_FALSE(ParseAgentOptions({"--stdio", "--once-list"}));
  EXPECT_FALSE(ParseAgentOptions({"--stdio", "--broker"}));
  EXPECT_FALSE(ParseAgentOptions({"--stdio", "--run-dir"}));
}

TEST(AgentOptions, BrokerLinkWithEnrolment) {
  auto options =
      ParseAgentOptions({"--broker", "https://b:8443", "--token-file", "/etc/t", "--cert-dir",
                         "/var/lib/a", "--name", "node7", "--capacity", "20"});
  ASSERT_TRUE(options) << options.error().message();
  EXPECT_EQ(options->mode, Mode::kLink);
  EXPECT_EQ(options->broker_url, "https://b:8443");
  EXPECT_EQ(options->token_file, "/etc/t");
  EXPECT_EQ(options->cert_dir, "/var/lib/a");
  EXPECT_EQ(options->host_name, "node7");
  EXPECT_EQ(options->capacity, 20);
  auto link = ParseAgentOptions({"--link", "wss://127.0.0.1:8444/api/v1/agent"});
  ASSERT_TRUE(link);
  EXPECT_EQ(link->mode, Mode::kLink);
}

TEST(AgentOptions, RefusesBadLinkOptions) {
  EXPECT_FALSE(ParseAgentOptions({"--broker", "https://b", "--stdio"}));
  EXPECT_FALSE(ParseAgentOptions({"--broker", "https://b", "--token", "x", "--token-file", "f"}));
  EXPECT_FALSE(ParseAgentOptions({"--broker", "https://b", "--capacity", "-1"}));
  EXPECT_FALSE(ParseAgentOptions({"--broker", "https://b", "--capacity", "many"}));
  EXPECT_FALSE(ParseAgentOptions({"--token", "x"}));  // enrolment needs the broker
}

}  // namespace
}  // namespace moat::agent
