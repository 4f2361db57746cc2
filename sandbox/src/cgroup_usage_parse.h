// Parsers for the kernel's usage files, shared by both drivers and unit-tested on samples.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moat::sandbox {

struct IoTotals {
  uint64_t read_bytes = 0, write_bytes = 0, read_ops = 0, write_ops = 0;
};

// v1 blkio.throttle.io_service_bytes_recursive / io_serviced_recursive: "MAJ:MIN Read N" lines.
void AddV1BlkioTotals(std::string_view text, uint64_t& read, uint64_t& write);
// v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..." lines, summed over devices.
IoTotals ParseV2IoStat(const std::string& text);
// "some avg10=1.23 avg60=..." → 1.23 for kind "some" (or "full").
std::optional<double> ParsePressureAvg10(const std::string& text, const std::string& kind);

}  // namespace moat::sandbox
