#include "db/user_store.h"

#include <gtest/gtest.h>

#include "db/test_support.h"

namespace moat::broker::db {
namespace {

class UserStoreTest : public testing::DbTest {
 protected:
  void SetUp() override {
    DbTest::SetUp();
    store_ = std::make_unique<UserStore>(*db_, TestClock(), auth::ScryptParams{.n = 1024});
    auto root = store_->Add({.name = "root", .password = "root-password", .role = Role::kAdmin},
                            Actor::System());
    ASSERT_TRUE(root) << root.error().message();
    admin_ = Actor::User(root->id);
  }
  Actor admin_;
  std::unique_ptr<UserStore> store_;
};

TEST_F(UserStoreTest, AddAndCheckPassword) {
  auto alice =
      store_->Add({.name = "alice", .display_name = "Alice", .password = "s3cret-pass"}, admin_);
  ASSERT_TRUE(alice) << alice.error().message();
  EXPECT_EQ(alice->role, Role::kUser);
  auto ok = store_->CheckPassword("alice", "s3cret-pass");
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->id, alice->id);
  auto wrong = store_->CheckPassword("alice", "s3cret-pasS");
  auto unknown = store_->CheckPassword("mallory", "s3cret-pass");
  ASSERT_FALSE(wrong);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(wrong.error().message(), unknown.error().message());
  EXPECT_EQ(wrong.error().code(), std::errc::permission_denied);
  // The stored hash is scrypt, not the password.
  EXPECT_EQ(CountRows("SELECT count(*) FROM users WHERE password_hash LIKE '$scrypt$%' AND "
                      "instr(password_hash, 's3cret') = 0"),
            2);
}

TEST_F(UserStoreTest, BadInputIsRefusedAndChangesNothing) {
  EXPECT_FALSE(store_->Add({.name = "", .password = "password1"}, admin_));
  EXPECT_FALSE(store_->Add({.name = "a b", .password = "password1"}, admin_));
  EXPECT_FALSE(store_->Add({.name = "-x", .password = "password1"}, admin_));
  EXPECT_FALSE(store_->Add({.name = "short", .password = "pw"}, admin_));
  EXPECT_FALSE(store_->Add({.name = "nopw"}, admin_));
  EXPECT_FALSE(store_->Add({.name = "pam", .password = "password1", .source = "pam"}, admin_));
  EXPECT_FALSE(store_->Add({.name = "ldap", .source = "ldap"}, admin_));
  auto dup = store_->Add({.name = "root", .password = "password1"}, admin_);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message(), "user 'root' already exists");
  EXPECT_EQ(CountRows("SELECT count(*) FROM users"), 1);
  EXPECT_EQ(CountRows("SELECT count(*) FROM session_events"), 1);  // root's own user.add
}

TEST_F(UserStoreTest, PamUsersHaveNoLocalPassword) {
  ASSERT_TRUE(store_->Add({.name = "pamuser", .source = "pam"}, admin_));
  EXPECT_FALSE(store_->CheckPassword("pamuser", ""));
  EXPECT_FALSE(store_->SetPassword("pamuser", "password1", admin_));
}

TEST_F(UserStoreTest, AdminActionsAreAuditedWithOldAndNewValues) {
  ASSERT_TRUE(store_->Add({.name = "bob", .password = "password1"}, admin_));
  Advance(5);
  auto bob = store_->SetRole("bob", Role::kAuditor, admin_);
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->role, Role::kAuditor);
  ASSERT_TRUE(store_->SetPassword("bob", "password2", admin_));
  ASSERT_TRUE(store_->SetDisabled("bob", true, admin_));
  EXPECT_FALSE(store_->CheckPassword("bob", "password2"));  // disabled
  EXPECT_FALSE(store_->SetRole("nobody", Role::kAdmin, admin_));

  auto events = ListEvents(*db_, {});
  ASSERT_TRUE(events);
  ASSERT_EQ(events->size(), 5u);
  const AuditRecord& disabled = (*events)[0];
  EXPECT_EQ(disabled.kind, "user.disabled");
  EXPECT_EQ(disabled.old_value, "false");
  EXPECT_EQ(disabled.new_value, "true");
  const AuditRecord& password = (*events)[1];
  EXPECT_EQ(password.kind, "user.password");
  EXPECT_EQ(password.new_value->find("$scrypt$"), std::string::npos);  // never the hash
  const AuditRecord& role = (*events)[2];
  EXPECT_EQ(role.kind, "user.role");
  EXPECT_EQ(role.old_value, "user");
  EXPECT_EQ(role.new_value, "auditor");
  EXPECT_EQ(role.actor, "root");
  EXPECT_EQ(role.at, Now());
  EXPECT_NE(role.detail.find("\"user\":\"bob\""), std::string::npos);
  const AuditRecord& added = (*events)[3];
  EXPECT_EQ(added.kind, "user.add");
  EXPECT_NE(added.new_value->find("\"name\":\"bob\""), std::string::npos);
  EXPECT_EQ((*events)[4].actor, "system");
}

}  // namespace
}  // namespace moat::broker::db
