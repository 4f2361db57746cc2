// Human output: aligned tables with a header row, "key: value" lines, and the small formatters
// they use (sizes, ages, times). --json output bypasses all of this (PrintJson).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace moat::ctl {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Columns two spaces apart, left-aligned, no trailing blanks; widths in characters (UTF-8).
  std::string Render() const;
  void Print() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "key:   value" lines, the values aligned.
void PrintFields(const std::vector<std::pair<std::string, std::string>>& fields);

// The API's body as is, one document on one line; "{}" for an empty (204) answer.
void PrintJson(const std::string& raw);

// A JSON value for a table cell: null "-", strings as they are, booleans yes/no.
std::string Cell(const nlohmann::json& value);
// 536870912 → "512M", 1610612736 → "1.5G", 900 → "900".
std::string FormatBytes(double bytes);
// Seconds → "42s", "5m", "3h", "2d".
std::string FormatAge(int64_t seconds);
// Unix seconds → "2025-01-02 15:04:05" in local time, and its age: "… (5m ago)".
std::string FormatTime(int64_t unix_seconds);
// Milliseconds → "15:04:05" in local time.
std::string FormatClock(int64_t unix_ms);
int64_t NowSeconds();

}  // namespace moat::ctl
