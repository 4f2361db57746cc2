#include "moat/sandbox/control_protocol.h"

#include <gtest/gtest.h>

namespace moat::sandbox {
namespace {

TEST(ControlLines, AnObjectIsOneLineEvenWithNewlinesInItsStrings) {
  auto line = EncodeControlLine({{"op", "launch"}, {"argv", {"sh", "-c", "a\nb"}}});
  ASSERT_TRUE(line);
  EXPECT_EQ(line->find('\n'), line->size() - 1);
  ControlLineReader reader;
  reader.Append(line->data(), line->size());
  auto body = reader.Next();
  ASSERT_TRUE(body && *body);
  EXPECT_EQ((**body)["argv"][2], "a\nb");
}

TEST(ControlLines, ObjectsSplitAcrossReadsAndSeveralInOneRead) {
  ControlLineReader reader;
  std::string text = "{\"a\":1}\n{\"b\":";
  reader.Append(text.data(), text.size());
  auto first = reader.Next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((**first)["a"], 1);
  auto none = reader.Next();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  reader.Append("2}\n", 3);
  auto second = reader.Next();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((**second)["b"], 2);
}

TEST(ControlLines, BadLinesAreErrorsAndTheReaderGoesOn) {
  ControlLineReader reader;
  std::string text = "not json\n[1]\n{\"ok\":true}\n";
  reader.Append(text.data(), text.size());
  EXPECT_FALSE(reader.Next());
  EXPECT_FALSE(reader.Next());
  auto ok = reader.Next();
  ASSERT_TRUE(ok && *ok);
  std::string huge(kMaxControlMessage + 1, 'x');
  reader.Append(huge.data(), huge.size());
  EXPECT_FALSE(reader.Next());
  auto empty = reader.Next();
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty);
  EXPECT_FALSE(EncodeControlLine({{"x", huge}}));
}

}  // namespace
}  // namespace moat::sandbox
