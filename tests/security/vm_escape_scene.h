// The host side of the escape suite in a VM session, beside escape_suite_host.h's scene: the
// programs copied into the users' homes (which the guests share over 9p; a guest's own files
// are out of the host's sight), where the probe's verdicts and the victim's readiness come
// back, and what the VM boundary's attacks aim at on the host: a directory of the attacker's
// on the read-only root export, with a marker file and a listening socket. The destructor
// removes all of it.
#pragma once

#include <string>

#include "escape_suite_host.h"
#include "moat/common/unique_fd.h"

namespace moat::escape_test {

class VmEscapeScene {
 public:
  VmEscapeScene(std::string nonce, HostUser attacker, HostUser victim);
  VmEscapeScene(const VmEscapeScene&) = delete;
  VmEscapeScene& operator=(const VmEscapeScene&) = delete;
  ~VmEscapeScene();

  // Returns an empty string on success, else what failed.
  std::string Prepare();

  // Paths on the host, which are the same paths in the guests.
  std::string probe() const { return attacker_.home + "/moat-escape-probe-" + nonce_; }
  std::string suid_helper() const { return attacker_.home + "/moat-escape-suid-" + nonce_; }
  std::string verdicts() const { return attacker_.home + "/moat-esc-verdicts-" + nonce_; }
  std::string victim_program() const { return victim_.home + "/moat-escape-victim-" + nonce_; }
  std::string victim_ready() const { return victim_.home + "/moat-esc-ready-" + nonce_; }
  std::string user_dir() const { return "/opt/moat-esc-vm-" + nonce_; }
  std::string export_socket() const { return user_dir() + "/host.sock"; }

  // Whether a write through the root export reached the host: the marker changed or the
  // probe's file appeared. False with what it found in *detail.
  bool ExportUntouched(std::string* detail) const;

 private:
  std::string marker() const { return user_dir() + "/export-marker"; }

  std::string nonce_;
  HostUser attacker_, victim_;
  UniqueFd socket_;
};

}  // namespace moat::escape_test
