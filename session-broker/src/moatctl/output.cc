#include "moatctl/output.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace moat::ctl {
namespace {

size_t Width(const std::string& text) {
  // UTF-8: count the bytes that start a character.
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

void Pad(std::string& line, const std::string& text, size_t width) {
  line += text;
  line.append(width - std::min(width, Width(text)), ' ');
}

std::string OneLine(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\t'; }, ' ');
  return text;
}

}  // namespace

std::string Table::Render() const {
  std::vector<size_t> widths(headers_.size(), 0);
  for (size_t i = 0; i < headers_.size(); ++i) widths[i] = Width(headers_[i]);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], Width(OneLine(row[i])));
    }
  }
  std::string out;
  auto add = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string text = i < row.size() ? OneLine(row[i]) : "";
      if (i + 1 < widths.size()) {
        Pad(line, text, widths[i] + 2);
      } else {
        line += text;
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  add(headers_);
  for (const auto& row : rows_) add(row);
  return out;
}

void Table::Print() const { std::fputs(Render().c_str(), stdout); }

void PrintFields(const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t width = 0;
  for (const auto& [key, value] : fields) width = std::max(width, Width(key) + 1);
  std::string out;
  for (const auto& [key, value] : fields) {
    Pad(out, key + ":", width + 1);
    out += value;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
  }
  std::fputs(out.c_str(), stdout);
}

void PrintJson(const std::string& raw) {
  std::string text = raw.empty() ? "{}" : raw;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::fputs((text + "\n").c_str(), stdout);
}

std::string Cell(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_number_float()) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%g", value.get<double>());
    return buffer;
  }
  return value.dump();
}

std::string FormatBytes(double bytes) {
  static constexpr const char* kUnits[] = {"", "K", "M", "G", "T", "P"};
  size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  char buffer[32];
  if (unit == 0 || bytes >= 100 || std::fabs(bytes - std::round(bytes)) < 0.05) {
    std::snprintf(buffer, sizeof(buffer), "%.0f%s", bytes, kUnits[unit]);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.1f%s", bytes, kUnits[unit]);
  }
  return buffer;
}

std::string FormatAge(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 2 * 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

std::string FormatTime(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S", &tm);
  int64_t age = NowSeconds() - unix_seconds;
  return std::string(buffer) +
         (age >= 0 ? " (" + FormatAge(age) + " ago)" : " (in " + FormatAge(-age) + ")");
}

std::string FormatClock(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%H:%M:%S", &tm);
  return buffer;
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace moat::ctl
