// PamAuthenticate against the real PAM stack: a real system user, the shipped service file
// (packaging/pam/moat) installed as /etc/pam.d/moat-test, pam_unix reading /etc/shadow. Needs
// root (useradd, chpasswd, /etc/pam.d, /etc/shadow).
#include "auth/pam_auth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "db/test_support.h"
#include "test_support.h"

namespace moat::broker::auth {
namespace {

using ::moat::test::RunCommand;

constexpr char kUser[] = "moat-pam-test";
constexpr char kPassword[] = "Corr3ct-horse-battery";
constexpr char kService[] = "moat-test";
constexpr char kBrokenService[] = "moat-test-broken";

std::filesystem::path ServiceFile(const std::string& service) {
  return std::filesystem::path("/etc/pam.d") / service;
}

void Shell(const std::string& script) {
  auto result = RunCommand({"/bin/sh", "-c", script});
  ASSERT_EQ(result.exit_code, 0) << script << ": " << result.err;
}

// The user (made once, kept between runs) and the two service files.
void InstallFixtures() {
  Shell(std::string("getent passwd ") + kUser + " >/dev/null || useradd -M -s /usr/sbin/nologin " +
        kUser);
  std::filesystem::copy_file(MOAT_PAM_SERVICE_FILE, ServiceFile(kService),
                             std::filesystem::copy_options::overwrite_existing);
  // A stack whose module does not exist: PAM cannot answer, which is an error, not a refusal.
  std::ofstream(ServiceFile(kBrokenService)) << "auth required pam_moat_does_not_exist.so\n"
                                             << "account required pam_permit.so\n";
}

// The account stays with its password locked, so it is no way in between runs.
void RemoveFixtures() {
  std::filesystem::remove(ServiceFile(kService));
  std::filesystem::remove(ServiceFile(kBrokenService));
  Shell(std::string("usermod -L ") + kUser + " && chage -E -1 " + kUser);
}

// A known password (chpasswd also clears a lock) and no expiry date.
void ResetAccount() {
  Shell(std::string("printf '%s:%s\\n' ") + kUser + " '" + kPassword +
        "' | chpasswd && chage -E -1 " + kUser);
}

class PamAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates a user and a PAM service file";
    InstallFixtures();
    ResetAccount();
  }
  void TearDown() override {
    if (::geteuid() == 0) RemoveFixtures();
  }
};

TEST_F(PamAuthTest, TheRightPasswordIsAccepted) {
  auto accepted = PamAuthenticate(kService, kUser, kPassword);
  ASSERT_TRUE(accepted) << accepted.error().message();
  EXPECT_TRUE(*accepted);
}

TEST_F(PamAuthTest, AWrongPasswordIsRefused) {
  auto refused = PamAuthenticate(kService, kUser, "Corr3ct-horse-battery-staple");
  ASSERT_TRUE(refused) << refused.error().message();
  EXPECT_FALSE(*refused);
}

TEST_F(PamAuthTest, AnUnknownUserIsRefused) {
  auto refused = PamAuthenticate(kService, "moat-pam-nobody", kPassword);
  ASSERT_TRUE(refused) << refused.error().message();
  EXPECT_FALSE(*refused);
}

TEST_F(PamAuthTest, AnEmptyPasswordIsRefused) {
  EXPECT_FALSE(PamAuthenticate(kService, kUser, "").value());
  // Even for an account without a password, which common-auth's nullok would let in.
  Shell(std::string("passwd -d ") + kUser + " >/dev/null");
  EXPECT_FALSE(PamAuthenticate(kService, kUser, "").value());
}

TEST_F(PamAuthTest, PasswordsWithANulByteAreRefused) {
  EXPECT_FALSE(PamAuthenticate(kService, kUser, std::string(kPassword) + '\0' + "x").value());
}

TEST_F(PamAuthTest, ALockedAccountIsRefusedAndUnlockingLetsItInAgain) {
  Shell(std::string("usermod -L ") + kUser);
  EXPECT_FALSE(PamAuthenticate(kService, kUser, kPassword).value());
  Shell(std::string("usermod -U ") + kUser);
  EXPECT_TRUE(PamAuthenticate(kService, kUser, kPassword).value());
}

TEST_F(PamAuthTest, AnExpiredAccountIsRefusedByTheAccountCheck) {
  Shell(std::string("chage -E 0 ") + kUser);  // expired on 1 January 1970
  EXPECT_FALSE(PamAuthenticate(kService, kUser, kPassword).value());
}

TEST_F(PamAuthTest, ABrokenStackIsAnErrorThatNamesTheCallButNotThePassword) {
  auto broken = PamAuthenticate(kBrokenService, kUser, kPassword);
  ASSERT_FALSE(broken);
  EXPECT_EQ(&broken.error().code().category(), &PamCategory());
  EXPECT_NE(broken.error().message().find("pam_authenticate for user 'moat-pam-test'"),
            std::string::npos)
      << broken.error().message();
  EXPECT_EQ(broken.error().message().find(kPassword), std::string::npos);
}

TEST_F(PamAuthTest, AnInvalidServiceNameIsAnError) {
  auto invalid = PamAuthenticate("", kUser, kPassword);
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code(), std::errc::invalid_argument);
}

// Login with the hook MakePamCheck builds: a user whose source is 'pam' logs in with the system
// password and gets a token; a wrong one gets the usual refusal.
class PamLoginTest : public db::testing::DbTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates a user and a PAM service file";
    DbTest::SetUp();
    InstallFixtures();
    ResetAccount();
    db::UserStore users(*db_, TestClock());
    ASSERT_TRUE(users.Add({.name = kUser, .source = "pam"}, db::Actor::System()));
    login_ = std::make_unique<Login>(*db_, TestClock(), MakePamCheck(kService));
  }
  void TearDown() override {
    if (::geteuid() == 0) RemoveFixtures();
  }

  std::unique_ptr<Login> login_;
};

TEST_F(PamLoginTest, APamUserLogsInWithTheSystemPassword) {
  auto result = login_->Run({.user = kUser, .password = kPassword, .address = "10.0.0.1"});
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->user.name, kUser);
  EXPECT_EQ(result->user.source, "pam");
  EXPECT_FALSE(result->token.token.empty());

  auto refused = login_->Run({.user = kUser, .password = "guess", .address = "10.0.0.1"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), std::errc::permission_denied);
  EXPECT_EQ(CountRows("SELECT count(*) FROM v_audit WHERE kind = 'auth.login_failed'"), 1);
}

// A system user unknown to the broker who passes PAM becomes a PAM user with the role 'user' at
// the first login; a wrong password creates nobody.
TEST_F(PamLoginTest, ASystemUserIsAddedAtTheFirstLogin) {
  db::UserStore users(*db_, TestClock());
  ASSERT_TRUE(users.SetDisabled(kUser, true, db::Actor::System()));  // out of the way
  auto fresh = Login(*db_, TestClock(), MakePamCheck(kService));
  ASSERT_TRUE(db_->Exec("UPDATE users SET name = 'renamed' WHERE name = 'moat-pam-test'"));
  auto refused = fresh.Run({.user = kUser, .password = "guess", .address = "10.0.0.2"});
  ASSERT_FALSE(refused);
  EXPECT_FALSE(users.Get(kUser));
  const char* added = "SELECT count(*) FROM v_audit WHERE kind = 'user.add' AND actor = 'system'";
  auto before = CountRows(added);
  auto result = fresh.Run({.user = kUser, .password = kPassword, .address = "10.0.0.2"});
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->user.source, "pam");
  EXPECT_EQ(result->user.role, db::Role::kUser);
  EXPECT_EQ(CountRows(added), before + 1);
}

}  // namespace
}  // namespace moat::broker::auth
