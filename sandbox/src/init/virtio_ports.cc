#include "virtio_ports.h"

#include <dirent.h>

#include "moat/common/text.h"
#include "moat/common/unique_dir.h"

namespace moat::sandbox::init {

std::vector<VirtioPort> ListVirtioPorts(const std::string& sysfs) {
  const std::string root = sysfs + "/class/virtio-ports";
  std::vector<VirtioPort> ports;
  UniqueDir dir(::opendir(root.c_str()));
  if (!dir) return ports;
  while (struct dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] == '.') continue;
    ports.push_back({text::ReadFirstLine(root + "/" + entry->d_name + "/name"),
                     std::string("/dev/") + entry->d_name});
  }
  return ports;
}

Result<std::string> FindVirtioPort(const std::string& name, const std::string& sysfs) {
  for (const auto& port : ListVirtioPorts(sysfs)) {
    if (port.name == name) return port.device;
  }
  return Fail(Error(std::make_error_code(std::errc::no_such_device),
                    "no virtio-serial port named '" + name + "'"));
}

}  // namespace moat::sandbox::init
