#include "display/rfb_client_filter.h"

#include <gtest/gtest.h>

#include <string>

namespace moat::broker::display {
namespace {

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

const std::string kKey = Bytes({4, 1, 0, 0, 0, 0, 0, 0x61});
const std::string kPointer = Bytes({5, 1, 0, 10, 0, 20});
const std::string kUpdateRequest = Bytes({3, 1, 0, 0, 0, 0, 4, 0, 3, 0});
const std::string kEncodings = Bytes({2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21});
const std::string kCutText = Bytes({6, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c'});

TEST(RfbClientFilter, ForwardsWholeMessagesAndReportsInput) {
  RfbClientFilter filter(false);
  auto out = filter.Feed(kUpdateRequest + kKey + kPointer);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->forward, kUpdateRequest + kKey + kPointer);
  EXPECT_TRUE(out->saw_input);
  auto quiet = filter.Feed(kEncodings + kUpdateRequest);
  ASSERT_TRUE(quiet);
  EXPECT_EQ(quiet->forward, kEncodings + kUpdateRequest);
  EXPECT_FALSE(quiet->saw_input);
}

TEST(RfbClientFilter, HoldsPartialMessagesUntilTheyAreWhole) {
  RfbClientFilter filter(false);
  std::string stream = kEncodings + kCutText + kKey;
  std::string forwarded;
  for (char c : stream) {  // one byte at a time: the worst a network can do
    auto out = filter.Feed(std::string(1, c));
    ASSERT_TRUE(out) << out.error().message();
    forwarded += out->forward;
  }
  EXPECT_EQ(forwarded, stream);
  EXPECT_EQ(filter.pending(), 0u);
}

TEST(RfbClientFilter, ReadOnlyDropsInputClipboardAndResizeButKeepsUpdates) {
  RfbClientFilter filter(true);
  std::string resize = Bytes({251, 0, 4, 0, 3, 0, 1, 0}) + std::string(16, '\0');
  std::string qemu_key = Bytes({255, 0, 0, 1, 0, 0, 0, 0x61, 0, 0, 0, 30});
  auto out =
      filter.Feed(kUpdateRequest + kKey + kPointer + kCutText + resize + qemu_key + kEncodings);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->forward, kUpdateRequest + kEncodings);
  // A watcher's input is dropped, and is not the owner's activity (last_input_at, idle).
  EXPECT_FALSE(out->saw_input);
}

TEST(RfbClientFilter, ExtendedClipboardLengthsAreNegative) {
  RfbClientFilter filter(false);
  // -4: four bytes of flags follow.
  std::string extended = Bytes({6, 0, 0, 0, 0xff, 0xff, 0xff, 0xfc, 0, 0, 0, 1});
  auto out = filter.Feed(extended + kKey);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->forward, extended + kKey);
}

TEST(RfbClientFilter, UnknownTypesAndHugeLengthsEndTheStream) {
  RfbClientFilter unknown(false);
  auto bad = unknown.Feed(Bytes({77, 0, 0, 0}));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("type 77"), std::string::npos);

  RfbClientFilter huge(false);
  auto too_big = huge.Feed(Bytes({6, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}));
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message().find("over the gateway's limit"), std::string::npos);

  RfbClientFilter audio(false);
  EXPECT_FALSE(audio.Feed(Bytes({255, 1, 0, 0})));
}

}  // namespace
}  // namespace moat::broker::display
