#include "moat/common/log.h"

#include <gtest/gtest.h>

#include <vector>

namespace moat::log {
namespace {

TEST(Log, TextLineHasTimeLevelMessageAndFields) {
  std::string line =
      FormatLine(Format::kText, Level::kInfo, "session started", {{"session", "s1"}, {"pid", 42}});
  // 2026-11-26T12:30:00.123Z INFO session started session=s1 pid=42
  ASSERT_GT(line.size(), 25u);
  EXPECT_EQ(line[10], 'T');
  EXPECT_EQ(line[23], 'Z');
  EXPECT_EQ(line.substr(24), " INFO session started session=s1 pid=42");
}

TEST(Log, JournalLineHasPriorityPrefixAndNoTime) {
  EXPECT_EQ(FormatLine(Format::kJournal, Level::kError, "boom", {{"host", "h1"}}),
            "<3>boom host=h1");
  EXPECT_EQ(FormatLine(Format::kJournal, Level::kWarning, "w", {}), "<4>w");
  EXPECT_EQ(FormatLine(Format::kJournal, Level::kDebug, "d", {}), "<7>d");
}

TEST(Log, ValuesThatWouldSplitAreQuotedAndEscaped) {
  EXPECT_EQ(FormatLine(Format::kJournal, Level::kInfo, "m",
                       {{"user", "a b"},
                        {"q", "say \"hi\""},
                        {"eq", "a=b"},
                        {"nl", "x\ny"},
                        {"empty", ""},
                        {"ctl", std::string_view("\x01", 1)},
                        {"ok", true}}),
            "<6>m user=\"a b\" q=\"say \\\"hi\\\"\" eq=\"a=b\" nl=\"x\\ny\" empty=\"\" "
            "ctl=\"\\x01\" ok=true");
}

TEST(Log, MessageStaysOnOneLine) {
  EXPECT_EQ(FormatLine(Format::kJournal, Level::kInfo, "two\nlines", {}), "<6>two lines");
}

TEST(Log, LevelFiltersAndSinkReceivesLines) {
  std::vector<std::string> lines;
  SetSink([&](std::string_view line) { lines.emplace_back(line); });
  SetFormat(Format::kJournal);
  Level saved = GetLevel();
  SetLevel(Level::kWarning);
  Info("dropped");
  Warning("kept", {{"session", "s2"}});
  Error("kept too");
  SetLevel(saved);
  SetSink(nullptr);
  SetFormat(DetectFormat());
  EXPECT_EQ(lines, (std::vector<std::string>{"<4>kept session=s2", "<3>kept too"}));
}

TEST(Log, ParsesLevelNames) {
  Level level = Level::kInfo;
  EXPECT_TRUE(ParseLevel("debug", level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_TRUE(ParseLevel("warn", level));
  EXPECT_EQ(level, Level::kWarning);
  EXPECT_FALSE(ParseLevel("loud", level));
  EXPECT_EQ(level, Level::kWarning);
}

}  // namespace
}  // namespace moat::log
