#include "setup_config.h"

#include <gtest/gtest.h>

namespace moat::sandbox {
namespace {

SetupConfig Example() {
  SetupConfig config;
  config.id = "s1";
  config.hostname = "moat-s1";
  config.lower_dir = "/";
  config.user = {"alice", 1000, 1000, "/home/alice", "/bin/sh", {}};
  config.cgroup_dirs = {"/sys/fs/cgroup/cpu/moat/s1"};
  config.cgroup_session_only_dirs = {"/sys/fs/cgroup/unified/moat/s1"};
  config.cgroup2_dir = "/sys/fs/cgroup/unified/moat/s1";
  config.cgroup2_init_dir = "/sys/fs/cgroup/unified/moat/s1";
  config.born_in_cgroup2_init_dir = true;
  config.cgroup_namespace_made = true;
  config.cgroup_self_move_file = "tasks";
  return config;
}

TEST(SetupConfig, CgroupEntryRoundTrips) {
  auto parsed = SetupConfigFromJson(SetupConfigToJson(Example()));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->cgroup2_dir, "/sys/fs/cgroup/unified/moat/s1");
  EXPECT_EQ(parsed->cgroup2_init_dir, "/sys/fs/cgroup/unified/moat/s1");
  EXPECT_TRUE(parsed->born_in_cgroup2_init_dir);
  EXPECT_TRUE(parsed->cgroup_namespace_made);
  EXPECT_EQ(parsed->cgroup_self_move_file, "tasks");
  EXPECT_EQ(parsed->cgroup_session_only_dirs, Example().cgroup_session_only_dirs);
}

// moat-init writes "0" to <group>/<file>: only the two files that move a process will do.
TEST(SetupConfig, AnyOtherSelfMoveFileIsRefused) {
  for (const char* file : {"cgroup.subtree_control", "../../cgroup.procs", "", "memory.max"}) {
    auto json = SetupConfigToJson(Example());
    json["cgroup_self_move_file"] = file;
    auto parsed = SetupConfigFromJson(json);
    EXPECT_FALSE(parsed) << file;
  }
}

// moat-init's cgroup namespace is rooted at cgroup2_dir: it must live there or below.
TEST(SetupConfig, InitDirOutsideTheSessionGroupIsRefused) {
  auto json = SetupConfigToJson(Example());
  json["cgroup2_dir"] = "/sys/fs/cgroup/moat/s1";
  json["cgroup_dirs"] = {"/sys/fs/cgroup/moat/s1"};
  for (const char* dir : {"/sys/fs/cgroup/moat/s1/init", "/sys/fs/cgroup/moat/s1"}) {
    json["cgroup2_init_dir"] = dir;
    EXPECT_TRUE(SetupConfigFromJson(json)) << dir;
  }
  for (const char* dir : {"/sys/fs/cgroup/moat/s10", "/sys/fs/cgroup/moat", "", "init"}) {
    json["cgroup2_init_dir"] = dir;
    EXPECT_FALSE(SetupConfigFromJson(json)) << dir;
  }
}

// A namespace made by the host holds moat-init only if it was born in its group.
TEST(SetupConfig, HostMadeNamespaceWithoutBirthInTheGroupIsRefused) {
  auto json = SetupConfigToJson(Example());
  json["born_in_cgroup2_init_dir"] = false;
  EXPECT_FALSE(SetupConfigFromJson(json));
  json["cgroup_namespace_made"] = false;
  EXPECT_TRUE(SetupConfigFromJson(json));
}

}  // namespace
}  // namespace moat::sandbox
