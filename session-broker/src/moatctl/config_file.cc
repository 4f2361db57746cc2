#include "moatctl/config_file.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "moat/common/unique_fd.h"
#include "moatctl/exit_code.h"

namespace moat::ctl {
namespace {

Status MakeDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return {};
  return FailErrno("mkdir", path);
}

Status WriteAll(int fd, const std::string& text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("write", path);
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

Result<std::string> ConfigPath() {
  const char* home = std::getenv("HOME");
  std::string dir = home && *home ? home : "";
  if (dir.empty()) {
    const passwd* pw = ::getpwuid(::getuid());
    if (pw == nullptr || pw->pw_dir == nullptr) {
      return Fail(InvalidArgument("no home directory: set HOME"));
    }
    dir = pw->pw_dir;
  }
  return dir + "/.config/moat/moatctl.json";
}

Result<SavedConfig> LoadConfig(const std::string& path) {
  SavedConfig config;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return config;
  std::ifstream in(path);
  if (!in) return FailErrno("open", path);
  std::stringstream text;
  text << in.rdbuf();
  auto json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return Fail(InvalidArgument("'" + path + "' is not a JSON object: remove it and log in again"));
  }
  auto string = [&](const char* key) {
    auto it = json.find(key);
    return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  config.broker = string("broker");
  config.ca_file = string("ca");
  config.token = string("token");
  config.user = string("user");
  if (auto it = json.find("expires_at"); it != json.end() && it->is_number_integer()) {
    config.expires_at = it->get<int64_t>();
  }
  return config;
}

Status SaveConfig(const std::string& path, const SavedConfig& config) {
  std::filesystem::path file(path);
  // ~/.config may be shared with other programs; only moat/ is ours to make 0700.
  MOAT_TRY_VOID(MakeDirectory(file.parent_path().parent_path().string()));
  MOAT_TRY_VOID(MakeDirectory(file.parent_path().string()));
  nlohmann::json json = {{"broker", config.broker},
                         {"ca", config.ca_file},
                         {"token", config.token},
                         {"user", config.user},
                         {"expires_at", config.expires_at}};
  std::string text = json.dump(2) + "\n";
  std::string temporary = path + ".tmp";
  ::unlink(temporary.c_str());
  UniqueFd fd(
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return FailErrno("create", temporary);
  // The mode of open() is masked by the umask; the token must not be readable by others.
  if (::fchmod(fd.get(), 0600) != 0) return FailErrno("chmod", temporary);
  MOAT_TRY_VOID(WriteAll(fd.get(), text, temporary));
  if (::fsync(fd.get()) != 0) return FailErrno("fsync", temporary);
  fd.Reset();
  if (::rename(temporary.c_str(), path.c_str()) != 0) return FailErrno("rename", temporary);
  return {};
}

}  // namespace moat::ctl
