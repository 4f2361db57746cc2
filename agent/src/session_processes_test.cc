#include "session_processes.h"

#include <gtest/gtest.h>

namespace moat::agent::internal {
namespace {

TEST(SessionProcesses, StatusGivesPpidRealUidAndNspid) {
  auto status = ParseProcStatus(
      "Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\nPid:\t4242\n"
      "PPid:\t4100\nTracerPid:\t0\nUid:\t101000\t101001\t101002\t101003\nGid:\t1\t1\t1\t1\n"
      "NStgid:\t4242\t7\nNSpid:\t4242\t7\nNSpgid:\t4242\t7\n");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->ppid, 4100);
  EXPECT_EQ(status->uid, 101000u);
  EXPECT_EQ(status->nspid, (std::vector<pid_t>{4242, 7}));
}

TEST(SessionProcesses, StatusWithoutNspidIsRefused) {
  EXPECT_FALSE(ParseProcStatus("PPid:\t1\nUid:\t0\t0\t0\t0\n"));
  EXPECT_FALSE(ParseProcStatus(""));
}

TEST(SessionProcesses, StatReadsFieldsAfterACommWithSpacesAndParentheses) {
  auto stat = ParseProcStat(
      "4242 (a) b (c)) R 4100 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 "
      "987654 8458240 176 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->comm, "a) b (c)");
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->utime, 250u);
  EXPECT_EQ(stat->stime, 50u);
  EXPECT_EQ(stat->start_time, 987654u);
  EXPECT_EQ(stat->rss_pages, 176u);
}

TEST(SessionProcesses, TruncatedStatIsRefused) {
  EXPECT_FALSE(ParseProcStat("4242 (sleep) S 1 2 3"));
  EXPECT_FALSE(ParseProcStat("garbage"));
}

TEST(SessionProcesses, CmdlineIsJoinedWithSpaces) {
  using namespace std::string_view_literals;
  EXPECT_EQ(JoinCmdline("sleep\0"
                        "300\0"sv),
            "sleep 300");
  EXPECT_EQ(JoinCmdline("sh\0-c\0echo a\0\0"sv), "sh -c echo a");
  EXPECT_EQ(JoinCmdline(""), "");
}

TEST(SessionProcesses, UidsMapInsideOrToTheOverflowId) {
  auto map = ParseIdMap("         0     100000      65536\n");
  ASSERT_EQ(map.size(), 1u);
  EXPECT_EQ(MapIdInside(map, 100000), 0u);
  EXPECT_EQ(MapIdInside(map, 101000), 1000u);
  EXPECT_EQ(MapIdInside(map, 165536), 65534u);
  EXPECT_EQ(MapIdInside(map, 0), 65534u);
  auto two = ParseIdMap("0 200000 1\n1000 1000 1\n");
  EXPECT_EQ(MapIdInside(two, 1000), 1000u);
  EXPECT_EQ(MapIdInside(two, 200000), 0u);
}

TEST(SessionProcesses, GroupNamesTheApplication) {
  EXPECT_EQ(AppOfGroup(""), "");
  EXPECT_EQ(AppOfGroup("init"), "");
  EXPECT_EQ(AppOfGroup("app-3"), "app-3");
  EXPECT_EQ(AppOfGroup("app-12/worker"), "app-12");
  EXPECT_EQ(AppOfGroup("app-"), "");
  EXPECT_EQ(AppOfGroup("app-x"), "");
  EXPECT_EQ(AppOfGroup("mine"), "");
}

}  // namespace
}  // namespace moat::agent::internal
