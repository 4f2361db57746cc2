#include "vm_escape_scene.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace moat::escape_test {
namespace {

constexpr const char* kMarkerText = "written on the host\n";

}  // namespace

VmEscapeScene::VmEscapeScene(std::string nonce, HostUser attacker, HostUser victim)
    : nonce_(std::move(nonce)), attacker_(std::move(attacker)), victim_(std::move(victim)) {}

VmEscapeScene::~VmEscapeScene() {
  socket_.Reset();
  std::error_code ignored;
  std::filesystem::remove_all(user_dir(), ignored);
  for (const auto& path : {probe(), suid_helper(), verdicts(), victim_program(), victim_ready()}) {
    unlink(path.c_str());
  }
}

std::string VmEscapeScene::Prepare() {
  auto errno_text = [](const std::string& what) { return what + ": " + strerror(errno); };
  // Root's copies, as a package would install them; the setuid bit must survive the copy.
  if (!InstallFile(MOAT_ESCAPE_PROBE_BIN, probe(), 0755)) return errno_text("copy the probe");
  if (!InstallFile(MOAT_ESCAPE_SUID_BIN, suid_helper(), 04755)) {
    return errno_text("copy the setuid helper");
  }
  if (!InstallFile(MOAT_ESCAPE_VICTIM_BIN, victim_program(), 0755)) {
    return errno_text("copy the victim");
  }
  unlink(verdicts().c_str());
  unlink(victim_ready().c_str());
  // The attacker's own directory outside its home: a guest sees it through the read-only
  // root export only, so its writes there must stay in the guest's overlay.
  if (mkdir(user_dir().c_str(), 0755) != 0) return errno_text("mkdir '" + user_dir() + "'");
  if (chown(user_dir().c_str(), attacker_.uid, attacker_.gid) != 0) {
    return errno_text("chown '" + user_dir() + "'");
  }
  if (!WriteWholeFile(marker(), kMarkerText, 0644) ||
      chown(marker().c_str(), attacker_.uid, attacker_.gid) != 0) {
    return errno_text("write '" + marker() + "'");
  }
  socket_.Reset(ListenUnix(export_socket(), false));
  if (!socket_) return errno_text("listen on '" + export_socket() + "'");
  chmod(export_socket().c_str(), 0777);
  return "";
}

bool VmEscapeScene::ExportUntouched(std::string* detail) const {
  std::string planted = user_dir() + "/moat-escape-" + nonce_;
  struct stat st {};
  if (lstat(planted.c_str(), &st) == 0) {
    *detail = "the guest's '" + planted + "' reached the host";
    return false;
  }
  if (ReadWholeFile(marker()).value_or("") != kMarkerText) {
    *detail = "'" + marker() + "' changed on the host";
    return false;
  }
  *detail = "nothing written in the guest under '" + user_dir() + "' reached the host";
  return true;
}

}  // namespace moat::escape_test
