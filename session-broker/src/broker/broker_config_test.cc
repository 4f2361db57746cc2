#include "broker/broker_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "moat/common/testing/temp_dir.h"

namespace moat::broker {
namespace {

std::string Write(const testing::TempDir& dir, const std::string& text) {
  std::string path = (dir.path() / "moat.toml").string();
  std::ofstream(path) << text;
  return path;
}

TEST(BrokerConfig, TheShippedFileHoldsTheDefaults) {
  auto config = LoadBrokerConfig({"--config", MOAT_SHIPPED_CONFIG});
  ASSERT_TRUE(config) << config.error().message();
  BrokerConfig defaults;
  EXPECT_EQ(config->listen_port, defaults.listen_port);
  EXPECT_EQ(config->agent_port, defaults.agent_port);
  EXPECT_EQ(config->state_dir, defaults.state_dir);
  EXPECT_EQ(config->pam_service, defaults.pam_service);
  EXPECT_EQ(config->usage_minute_retention_s, defaults.usage_minute_retention_s);
  EXPECT_EQ(config->local_capacity, defaults.local_capacity);
  EXPECT_EQ(config->display_enabled, defaults.display_enabled);
  EXPECT_EQ(config->display_port, defaults.display_port);
  EXPECT_EQ(config->display_takeover, defaults.display_takeover);
  EXPECT_EQ(config->novnc_dir, defaults.novnc_dir);
  EXPECT_EQ(config->desktop_startup, defaults.desktop_startup);
  EXPECT_EQ(config->window_manager, defaults.window_manager);
}

TEST(BrokerConfig, TheDesktopsStartupAndWindowManagerAreKeys) {
  testing::TempDir dir;
  auto config = LoadBrokerConfig(
      {"--config", Write(dir, "[local_agent]\ndesktop_startup = \"xterm -fg green\"\n"),
       "--local_agent.window_manager", "/usr/bin/icewm"});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->desktop_startup, "xterm -fg green");
  EXPECT_EQ(config->window_manager, "/usr/bin/icewm");
  EXPECT_FALSE(LoadBrokerConfig({"--local_agent.desktop_startup", " "}));
  EXPECT_FALSE(LoadBrokerConfig({"--local_agent.window_manager", "openbox --debug"}));
}

TEST(BrokerConfig, TheNoVncDirectoryIsAKeyAndAFlag) {
  testing::TempDir dir;
  auto from_file =
      LoadBrokerConfig({"--config", Write(dir, "[display]\nnovnc_dir = \"/opt/novnc\"\n")});
  ASSERT_TRUE(from_file) << from_file.error().message();
  EXPECT_EQ(from_file->novnc_dir, "/opt/novnc");
  auto from_flag = LoadBrokerConfig({"--display.novnc_dir", "/srv/novnc"});
  ASSERT_TRUE(from_flag) << from_flag.error().message();
  EXPECT_EQ(from_flag->novnc_dir, "/srv/novnc");
  EXPECT_FALSE(LoadBrokerConfig({"--display.novnc_dir", ""}));
  EXPECT_FALSE(LoadBrokerConfig({"--display.novnc", "/x"}));
}

TEST(BrokerConfig, FlagsWinOverTheFile) {
  testing::TempDir dir;
  auto config = LoadBrokerConfig({"--config", Write(dir, "[listen]\nport = 9000\n"),
                                  "--listen.port", "9443", "--state-dir", "/srv/moat",
                                  "--no-local-agent", "--tls.names=[\"a\",\"b\"]"});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->listen_port, 9443);
  EXPECT_EQ(config->state_dir, "/srv/moat");
  EXPECT_FALSE(config->local_agent);
  EXPECT_EQ(config->tls_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(config->DatabasePath(), "/srv/moat/moat.db");
}

TEST(BrokerConfig, ABadFileIsRefusedWithItsLine) {
  testing::TempDir dir;
  auto wrong_type = LoadBrokerConfig({"--config", Write(dir, "[listen]\n\nport = \"high\"\n")});
  ASSERT_FALSE(wrong_type);
  EXPECT_NE(wrong_type.error().message().find("moat.toml:3"), std::string::npos)
      << wrong_type.error().message();
  auto unknown = LoadBrokerConfig({"--config", Write(dir, "[listen]\nprot = 1\n")});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("listen.prot"), std::string::npos);
  auto range = LoadBrokerConfig({"--config", Write(dir, "[listen]\nport = 70000\n")});
  ASSERT_FALSE(range);
  auto syntax = LoadBrokerConfig({"--config", Write(dir, "[listen\n")});
  ASSERT_FALSE(syntax);
  EXPECT_NE(syntax.error().message().find(":1:"), std::string::npos) << syntax.error().message();
  auto missing = LoadBrokerConfig({"--config", (dir.path() / "absent.toml").string()});
  EXPECT_FALSE(missing);
  auto half_tls = LoadBrokerConfig({"--tls.cert", "/x.crt"});
  EXPECT_FALSE(half_tls);
}

// Pruning refuses minute rows kept shorter than raw samples, so such a config would never
// prune: refused at load, with both keys named.
TEST(BrokerConfig, MinuteRetentionShorterThanRawIsRefused) {
  testing::TempDir dir;
  auto shorter = LoadBrokerConfig(
      {"--config", Write(dir, "[usage]\nraw_retention_s = 86400\nminute_retention_s = 7200\n")});
  ASSERT_FALSE(shorter);
  EXPECT_NE(shorter.error().message().find("usage.minute_retention_s"), std::string::npos)
      << shorter.error().message();
  EXPECT_NE(shorter.error().message().find("usage.raw_retention_s"), std::string::npos)
      << shorter.error().message();
  EXPECT_FALSE(LoadBrokerConfig({"--usage.raw_retention_s", "7776001"}));  // over the default
  EXPECT_TRUE(
      LoadBrokerConfig({"--usage.raw_retention_s", "7200", "--usage.minute_retention_s", "7200"}));
}

// --help sends the reader to documents that exist.
TEST(BrokerConfig, TheUsageNamesDocumentsThatExist) {
  std::string usage = kBrokerUsage;
  int named = 0;
  for (size_t at = usage.find("docs/"); at != std::string::npos; at = usage.find("docs/", at)) {
    size_t end = usage.find(".md", at);
    ASSERT_NE(end, std::string::npos) << usage.substr(at);
    std::string doc = usage.substr(at, end + 3 - at);
    EXPECT_TRUE(std::filesystem::exists(std::string(MOAT_SOURCE_DIR) + "/" + doc)) << doc;
    ++named;
    at = end;
  }
  EXPECT_GT(named, 0) << usage;
}

TEST(BrokerConfig, BadFlagsAreRefused) {
  EXPECT_FALSE(LoadBrokerConfig({"--listen.prot", "1"}));
  EXPECT_FALSE(LoadBrokerConfig({"--listen.port"}));
  EXPECT_FALSE(LoadBrokerConfig({"--listen.port", "x"}));
  EXPECT_FALSE(LoadBrokerConfig({"stray"}));
  EXPECT_FALSE(LoadBrokerConfig({"--log.level", "loud"}));
}

}  // namespace
}  // namespace moat::broker
