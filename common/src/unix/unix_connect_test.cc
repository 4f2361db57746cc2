#include "moat/common/unix_connect.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace moat {
namespace {

class ConnectUnixNoFollowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/moat-unix-connect-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  UniqueFd Listen(const std::string& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(::listen(fd.get(), 4), 0);
    return fd;
  }

  std::string dir_;
};

TEST_F(ConnectUnixNoFollowTest, ReachesTheSocketItself) {
  auto listener = Listen(dir_ + "/rfb.sock");
  auto fd = ConnectUnixNoFollow(dir_ + "/rfb.sock");
  ASSERT_TRUE(fd) << fd.error().message();
  EXPECT_GE(::accept(listener.get(), nullptr, nullptr), 0);
}

TEST_F(ConnectUnixNoFollowTest, RefusesALinkToAnotherSocket) {
  auto victim = Listen(dir_ + "/victim.sock");
  std::filesystem::create_symlink(dir_ + "/victim.sock", dir_ + "/rfb.sock");
  auto fd = ConnectUnixNoFollow(dir_ + "/rfb.sock");
  ASSERT_FALSE(fd);
  EXPECT_NE(fd.error().message().find("not a socket"), std::string::npos) << fd.error().message();
  // Nothing reached the victim.
  ASSERT_EQ(::fcntl(victim.get(), F_SETFL, O_NONBLOCK), 0);
  EXPECT_LT(::accept(victim.get(), nullptr, nullptr), 0);
}

TEST_F(ConnectUnixNoFollowTest, RefusesAFileAndNamesAMissingPath) {
  std::ofstream(dir_ + "/file") << "x";
  auto file = ConnectUnixNoFollow(dir_ + "/file");
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message().find("not a socket"), std::string::npos);
  auto missing = ConnectUnixNoFollow(dir_ + "/missing");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("open"), std::string::npos) << missing.error().message();
  EXPECT_NE(missing.error().message().find(dir_ + "/missing"), std::string::npos);
}

}  // namespace
}  // namespace moat
