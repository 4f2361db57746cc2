#include "seccomp_disk_cache.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "cgroup_files.h"
#include "moat/common/text.h"
#include "moat/common/unique_fd.h"

namespace moat::sandbox {
namespace {

// FNV-1a over the identity of /proc/self/exe: device, inode, size and modification time.
std::string BinaryKey() {
  struct stat st {};
  if (::stat("/proc/self/exe", &st) != 0) return "";
  uint64_t hash = 1469598103934665603ull;
  for (uint64_t part : {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                        static_cast<uint64_t>(st.st_size), static_cast<uint64_t>(st.st_mtim.tv_sec),
                        static_cast<uint64_t>(st.st_mtim.tv_nsec)}) {
    for (int byte = 0; byte < 8; ++byte) {
      hash ^= (part >> (byte * 8)) & 0xff;
      hash *= 1099511628211ull;
    }
  }
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

}  // namespace

Result<SeccompProgram> LoadSeccompProgram(const std::string& cache_dir, const std::string& profile,
                                          SeccompAudience audience) {
  std::string key = BinaryKey();
  std::string path = cache_dir + "/" + profile +
                     (audience == SeccompAudience::kSupervisor ? "-supervisor-" : "-") + key +
                     ".bpf";
  if (!key.empty()) {
    if (auto text = moat::text::ReadFile(path);
        text && !text->empty() && text->size() % sizeof(struct sock_filter) == 0) {
      return SeccompProgram{std::vector<uint8_t>(text->begin(), text->end())};
    }
  }
  MOAT_TRY(const SeccompProgram* program, CachedSeccompProfile(profile, audience));
  if (!key.empty() && MakeDirs(cache_dir, 0700)) {
    // Best effort: a failed write only means the next run compiles again.
    std::string temp = path + "." + std::to_string(::getpid());
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd && ::write(fd.get(), program->bpf.data(), program->bpf.size()) ==
                  static_cast<ssize_t>(program->bpf.size())) {
      fd.Reset();
      ::rename(temp.c_str(), path.c_str());
    } else {
      ::unlink(temp.c_str());
    }
  }
  return *program;
}

}  // namespace moat::sandbox
