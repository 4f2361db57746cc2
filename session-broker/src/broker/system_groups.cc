#include "broker/system_groups.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

namespace moat::broker {

std::vector<std::string> SystemGroups(const std::string& user) {
  std::vector<char> buffer(16 << 10);
  struct passwd pw {};
  struct passwd* found_user = nullptr;
  if (::getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(), &found_user) != 0 ||
      found_user == nullptr) {
    return {};
  }
  int count = 64;
  std::vector<gid_t> gids(static_cast<size_t>(count));
  if (::getgrouplist(user.c_str(), pw.pw_gid, gids.data(), &count) < 0) {
    gids.resize(static_cast<size_t>(count));
    if (::getgrouplist(user.c_str(), pw.pw_gid, gids.data(), &count) < 0) return {};
  }
  std::vector<std::string> groups;
  std::vector<char> group_buffer(64 << 10);
  for (int i = 0; i < count; ++i) {
    struct group gr {};
    struct group* found_group = nullptr;
    if (::getgrgid_r(gids[static_cast<size_t>(i)], &gr, group_buffer.data(), group_buffer.size(),
                     &found_group) == 0 &&
        found_group != nullptr) {
      groups.emplace_back(gr.gr_name);
    }
  }
  return groups;
}

Result<db::EffectivePolicy> EffectivePolicyOf(const db::Database& db, const std::string& user) {
  return db::PolicyStore(db).Effective(user, SystemGroups(user));
}

}  // namespace moat::broker
