#include "moat/common/config/toml.h"

#include <gtest/gtest.h>

#include <array>
#include <fstream>

namespace moat::config {
namespace {

constexpr std::string_view kConfig = R"(# test config
name = "moat"
workers = 4
ratio = 0.5
whole = 2
enabled = true
tags = ["a", "b"]

[listen]
address = "0.0.0.0"
port = "443"
)";

TEST(Toml, ReadsTypedValues) {
  auto table = ParseToml(kConfig, "test.toml");
  ASSERT_TRUE(table) << table.error().message();
  EXPECT_EQ(GetString(*table, "name").value(), "moat");
  EXPECT_EQ(GetInteger(*table, "workers").value(), 4);
  EXPECT_EQ(GetFloat(*table, "ratio").value(), 0.5);
  EXPECT_EQ(GetFloat(*table, "whole").value(), 2.0);
  EXPECT_EQ(GetBool(*table, "enabled").value(), true);
  EXPECT_EQ(GetStringArray(*table, "tags").value(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(GetString(*table, "listen.address").value(), "0.0.0.0");
  auto listen = GetTable(*table, "listen");
  ASSERT_TRUE(listen && *listen);
  EXPECT_EQ(GetString(***listen, "address").value(), "0.0.0.0");
}

TEST(Toml, AbsentKeyIsNullopt) {
  auto table = ParseToml(kConfig, "test.toml");
  ASSERT_TRUE(table);
  auto missing = GetInteger(*table, "listen.backlog");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  auto missing_table = GetTable(*table, "tls");
  ASSERT_TRUE(missing_table);
  EXPECT_FALSE(missing_table->has_value());
}

TEST(Toml, WrongTypeNamesKeyPathAndLine) {
  auto table = ParseToml(kConfig, "test.toml");
  ASSERT_TRUE(table);
  auto port = GetInteger(*table, "listen.port");
  ASSERT_FALSE(port);
  EXPECT_EQ(port.error().message(),
            "test.toml:11:8: 'listen.port' must be an integer, not a string");
  auto name = GetBool(*table, "name");
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().message(), "test.toml:2:8: 'name' must be a boolean, not a string");
  EXPECT_FALSE(GetTable(*table, "name"));
  EXPECT_FALSE(GetFloat(*table, "enabled"));
}

TEST(Toml, WrongTypeInsideArrayNamesTheElement) {
  auto table = ParseToml("tags = [\"a\", 2]\n", "t.toml");
  ASSERT_TRUE(table);
  auto tags = GetStringArray(*table, "tags");
  ASSERT_FALSE(tags);
  EXPECT_EQ(tags.error().message(), "t.toml:1:14: 'tags[1]' must be a string, not an integer");
}

TEST(Toml, IntegerOutOfRangeSaysTheRange) {
  auto table = ParseToml("port = 70000\n", "t.toml");
  ASSERT_TRUE(table);
  auto port = GetIntegerInRange(*table, "port", 1, 65535);
  ASSERT_FALSE(port);
  EXPECT_EQ(port.error().message(), "t.toml:1:8: 'port' must be between 1 and 65535, not 70000");
  EXPECT_EQ(GetIntegerInRange(*table, "port", 1, 70000).value(), 70000);
}

TEST(Toml, SyntaxErrorHasFileLineColumn) {
  auto table = ParseToml("a = 1\nb = \n", "broken.toml");
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().message().rfind("broken.toml:2:", 0), 0u) << table.error().message();
}

TEST(Toml, DuplicateKeyIsAnError) {
  auto table = ParseToml("a = 1\na = 2\n", "dup.toml");
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().message().rfind("dup.toml:2:", 0), 0u) << table.error().message();
}

TEST(Toml, RejectsFirstUnknownKeyWithItsLine) {
  auto table = ParseToml("name = 1\nzzz = 2\nprot = 3\n[listen]\nadress = \"x\"\n", "u.toml");
  ASSERT_TRUE(table);
  constexpr std::array<std::string_view, 2> kKnown = {"name", "listen"};
  auto status = RejectUnknownKeys(*table, kKnown);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message(), "u.toml:2:1: unknown key 'zzz' (known: name, listen)");

  constexpr std::array<std::string_view, 2> kListen = {"address", "port"};
  auto listen = GetTable(*table, "listen");
  ASSERT_TRUE(listen && *listen);
  auto nested = RejectUnknownKeys(***listen, kListen, "listen");
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error().message(),
            "u.toml:5:1: unknown key 'listen.adress' (known: address, port)");

  constexpr std::array<std::string_view, 4> kAll = {"name", "zzz", "prot", "listen"};
  EXPECT_TRUE(RejectUnknownKeys(*table, kAll));
}

TEST(Toml, LoadsFileAndReportsItsPath) {
  std::string path = ::testing::TempDir() + "moat-toml-test.toml";
  {
    std::ofstream out(path);
    out << "a = 1\nb = \"x\"\n";
  }
  auto table = LoadTomlFile(path);
  ASSERT_TRUE(table) << table.error().message();
  auto b = GetInteger(*table, "b");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().message(), path + ":2:5: 'b' must be an integer, not a string");
  EXPECT_EQ(std::remove(path.c_str()), 0);
}

TEST(Toml, MissingFileIsAnIoError) {
  auto table = LoadTomlFile("/nonexistent/moat.toml");
  ASSERT_FALSE(table);
  EXPECT_NE(table.error().message().find("/nonexistent/moat.toml"), std::string::npos)
      << table.error().message();
}

}  // namespace
}  // namespace moat::config
