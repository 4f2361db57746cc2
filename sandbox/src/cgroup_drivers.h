// Constructors of the two drivers; CgroupDriver::Detect picks one.
#pragma once

#include <memory>

#include "moat/sandbox/cgroup_driver.h"

namespace moat::sandbox {

std::unique_ptr<CgroupDriver> MakeCgroupV1(const CgroupOptions& options);
std::unique_ptr<CgroupDriver> MakeCgroupV2(const CgroupOptions& options);

}  // namespace moat::sandbox
