// Telling a live process from a reused pid: its start time, from /proc/PID/stat.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace moat::sandbox {

// Field 22 of /proc/PID/stat; nullopt when the process does not exist.
std::optional<uint64_t> ProcessStartTime(pid_t pid);
// Alive, not a zombie, and started at `start_time`.
bool IsSameLiveProcess(pid_t pid, uint64_t start_time);

}  // namespace moat::sandbox
