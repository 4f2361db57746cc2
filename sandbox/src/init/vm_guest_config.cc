#include "vm_guest_config.h"

#include <cstdlib>
#include <map>

#include "moat/common/text.h"
#include "moat/common/vm_guest_home.h"

namespace moat::sandbox::init {
namespace {

Result<unsigned long> Number(const std::map<std::string, std::string>& words,
                             const std::string& key) {
  auto it = words.find(key);
  if (it == words.end() || it->second.empty()) {
    return Fail(InvalidArgument("kernel command line lacks " + key + "="));
  }
  char* end = nullptr;
  unsigned long value = std::strtoul(it->second.c_str(), &end, 10);
  if (*end != '\0') return Fail(InvalidArgument(key + "='" + it->second + "' is not a number"));
  return value;
}

}  // namespace

Result<VmGuestConfig> VmGuestConfigFromCmdline(const std::string& cmdline) {
  std::map<std::string, std::string> words;
  for (auto piece : text::Words(cmdline)) {
    std::string word(piece);
    auto eq = word.find('=');
    if (word.rfind("moat.", 0) == 0 && eq != std::string::npos) {
      words[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  VmGuestConfig out;
  for (const char* key : {"moat.id", "moat.user", "moat.home"}) {
    if (words[key].empty())
      return Fail(InvalidArgument(std::string("kernel command line lacks ") + key + "="));
  }
  out.config.id = words["moat.id"];
  out.config.hostname = "moat-" + out.config.id;
  out.config.user.name = words["moat.user"];
  out.config.user.home = words["moat.home"];
  out.config.user.shell = words["moat.shell"].empty() ? "/bin/sh" : words["moat.shell"];
  MOAT_TRY(auto uid, Number(words, "moat.uid"));
  MOAT_TRY(auto gid, Number(words, "moat.gid"));
  if (uid == 0) return Fail(InvalidArgument("a VM session never runs as root"));
  out.config.user.uid = static_cast<uid_t>(uid);
  out.config.user.gid = static_cast<gid_t>(gid);
  out.groups.push_back(out.config.user.gid);
  for (auto piece : text::Split(words["moat.groups"], ',')) {
    std::string group(piece);
    char* end = nullptr;
    unsigned long value = std::strtoul(group.c_str(), &end, 10);
    if (*end != '\0') return Fail(InvalidArgument("moat.groups: '" + group + "' is not a number"));
    if (value != out.config.user.gid) out.groups.push_back(static_cast<gid_t>(value));
  }
  if (!words["moat.seccomp"].empty()) out.seccomp_profile = words["moat.seccomp"];
  if (!IsVmGuestHome(out.config.user.home)) {
    return Fail(InvalidArgument("moat.home='" + out.config.user.home +
                                "' is not an absolute path other than / without . or .."));
  }
  if (words.count("moat.ports")) {
    MOAT_TRY(auto ports, Number(words, "moat.ports"));
    if (ports < 1 || ports > 8) {
      return Fail(InvalidArgument("moat.ports=" + words["moat.ports"] + " is not 1 to 8"));
    }
    out.named_ports = static_cast<unsigned>(ports);
  }
  return out;
}

}  // namespace moat::sandbox::init
