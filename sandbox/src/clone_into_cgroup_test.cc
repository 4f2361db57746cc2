// Runs as root on the host's cgroup2 mount (the hybrid layout's unified one, or a v2 host's).
#include "clone_into_cgroup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "cgroup_namespace.h"
#include "moat/common/text.h"

namespace moat::sandbox {
namespace {

std::string Cgroup2Root() {
  for (const char* root : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    if (::access((std::string(root) + "/cgroup.subtree_control").c_str(), F_OK) == 0) return root;
  }
  return "";
}

// A scratch group under the cgroup2 root, open for CLONE_INTO_CGROUP.
class ScratchCgroup2 {
 public:
  ScratchCgroup2() {
    std::string root = Cgroup2Root();
    if (root.empty() || ::geteuid() != 0) return;
    name_ = "moat-clone-test-" + std::to_string(::getpid());
    path_ = root + "/" + name_;
    if (::mkdir(path_.c_str(), 0755) != 0) return;
    fd_ = ::open(path_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  }
  ~ScratchCgroup2() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::rmdir(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  std::string line() const { return "0::/" + name_ + "\n"; }

 private:
  std::string name_, path_;
  int fd_ = -1;
};

// Reads the caller's /proc/self/cgroup into `text` with system calls only: no allocation in a
// child that shares our memory.
void ReadOwnCgroups(char (&text)[4096]) {
  std::memset(text, 0, sizeof(text));
  int fd = ::open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)!::read(fd, text, sizeof(text) - 1);
  ::close(fd);
}

TEST(CloneIntoCgroup, ForkedChildStartsInTheGroup) {
  ScratchCgroup2 group;
  if (group.fd() < 0) GTEST_SKIP() << "needs root and a cgroup2 mount";
  CloneResult child = ForkIntoCgroup(group.fd());
  if (child.pid < 0 && (child.error == ENOSYS || child.error == E2BIG)) {
    GTEST_SKIP() << "no clone3 with CLONE_INTO_CGROUP here";
  }
  ASSERT_GT(child.pid, -1) << std::strerror(child.error);
  if (child.pid == 0) {
    char text[4096];
    ReadOwnCgroups(text);
    ::_exit(std::strstr(text, group.line().c_str()) != nullptr ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child not in " << group.line();
}

struct ChildReport {
  char* stack_low = nullptr;
  char* stack_high = nullptr;
  bool on_given_stack = false;
  char cgroups[4096] = {};
};

int RecordChild(void* arg) {
  auto& report = *static_cast<ChildReport*>(arg);
  char here = 0;
  report.on_given_stack = &here > report.stack_low && &here < report.stack_high;
  ReadOwnCgroups(report.cgroups);
  return 42;
}

// The hand-written clone3 entry: the child runs on the stack it was given, shares our memory
// (CLONE_VM), we resume once it has exited (CLONE_VFORK), and it exits with fn's result.
TEST(CloneIntoCgroup, ChildRunsOnItsStackInTheGroupAndExitsWithTheResult) {
  ScratchCgroup2 group;
  if (group.fd() < 0) GTEST_SKIP() << "needs root and a cgroup2 mount";
  constexpr size_t kStackBytes = 64 * 1024;
  std::unique_ptr<char[]> stack(new char[kStackBytes]);
  ChildReport report;
  report.stack_low = stack.get();
  report.stack_high = stack.get() + kStackBytes;
  int pidfd = -1;
  CloneResult child = CloneOnStack(CLONE_VM | CLONE_VFORK | CLONE_PIDFD, group.fd(), stack.get(),
                                   kStackBytes, RecordChild, &report, &pidfd);
  if (child.pid < 0 && (child.error == ENOSYS || child.error == E2BIG)) {
    GTEST_SKIP() << "no clone3 with CLONE_INTO_CGROUP here";
  }
  ASSERT_GT(child.pid, 0) << std::strerror(child.error);
  EXPECT_GE(pidfd, 0);
  EXPECT_TRUE(report.on_given_stack);
  EXPECT_NE(std::string(report.cgroups).find(group.line()), std::string::npos) << report.cgroups;
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 42);
  if (pidfd >= 0) ::close(pidfd);
}

TEST(CloneIntoCgroup, ABadGroupFdFailsWithItsErrno) {
  if (Cgroup2Root().empty() || ::geteuid() != 0) GTEST_SKIP() << "needs root and cgroup2";
  int not_a_cgroup = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(not_a_cgroup, 0);
  CloneResult child = ForkIntoCgroup(not_a_cgroup);
  if (child.pid == 0) ::_exit(0);  // must not happen: reaped below as a failure
  ::close(not_a_cgroup);
  if (child.pid < 0 && (child.error == ENOSYS || child.error == E2BIG)) {
    GTEST_SKIP() << "no clone3 with CLONE_INTO_CGROUP here";
  }
  EXPECT_LT(child.pid, 0);
  EXPECT_EQ(child.error, EBADF) << std::strerror(child.error);
  if (child.pid > 0) ::waitpid(child.pid, nullptr, 0);
}

// moat-init's namespace on v2: made by a helper born in the session group, which is empty
// again afterwards (so it may hand controllers down), and a process born in the `init` leaf
// that joins the namespace sees the group as its root.
TEST(CgroupNamespace, MadeInTheGroupRootsTheViewThereAndLeavesTheGroupEmpty) {
  ScratchCgroup2 group;
  if (group.fd() < 0) GTEST_SKIP() << "needs root and a cgroup2 mount";
  std::string leaf = group.path() + "/init";
  ASSERT_EQ(::mkdir(leaf.c_str(), 0755), 0) << std::strerror(errno);
  struct RemoveLeaf {
    std::string path;
    ~RemoveLeaf() { ::rmdir(path.c_str()); }
  } remove_leaf{leaf};
  auto made = MakeCgroupNamespaceIn(group.fd(), group.path());
  if (!made && (made.error().code() == std::error_code(ENOSYS, std::generic_category()) ||
                made.error().code() == std::error_code(EPERM, std::generic_category()))) {
    GTEST_SKIP() << "no clone3 with CLONE_INTO_CGROUP here";
  }
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_EQ(moat::text::ReadFile(group.path() + "/cgroup.procs").value_or("?"), "");

  int leaf_fd = ::open(leaf.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(leaf_fd, 0) << std::strerror(errno);
  CloneResult child = ForkIntoCgroup(leaf_fd);
  ::close(leaf_fd);
  ASSERT_GT(child.pid, -1) << std::strerror(child.error);
  if (child.pid == 0) {
    if (::setns(made->get(), CLONE_NEWCGROUP) != 0) ::_exit(2);
    char text[4096];
    ReadOwnCgroups(text);
    ::_exit(std::strstr(text, "0::/init\n") != nullptr ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child.pid, &status, 0), child.pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "1: the child does not see itself in /init; 2: setns failed";
}

}  // namespace
}  // namespace moat::sandbox
