// A small structured logger for the daemons: one line per event, a level, a message and
// key=value fields that ops grep for (session=, user=, host=). Libraries return errors and do
// not log; the daemon that decides what to do with an error logs it, once.
//
//   moat::log::Info("session started", {{"session", id}, {"user", user}});
//   → 2026-11-26T12:30:00.123Z INFO session started session=s1 user=alice
//
// Under systemd (JOURNAL_STREAM set to stderr) the time is left to the journal and the level
// becomes a "<N>" priority prefix that journald understands.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace moat::log {

enum class Level { kDebug, kInfo, kWarning, kError };

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  template <typename T>
  requires std::is_arithmetic_v<T> Field(std::string_view k, T v) : key(k) {
    if constexpr (std::is_same_v<T, bool>) {
      value = v ? "true" : "false";
    } else {
      value = std::to_string(v);
    }
  }

  std::string_view key;
  std::string value;
};

enum class Format { kText, kJournal };

// Everything goes through one sink (stderr by default, one write(2) per line so lines from
// several threads never interleave). Tests swap in their own sink.
using Sink = std::function<void(std::string_view line)>;

void SetLevel(Level level);
Level GetLevel();
void SetFormat(Format format);
// Journal under systemd with stderr connected to the journal, text otherwise.
Format DetectFormat();
void SetSink(Sink sink);  // nullptr restores stderr

// Parses "debug", "info", "warning"/"warn", "error"; false for anything else.
bool ParseLevel(std::string_view text, Level& out);

// The line as it is written, without the trailing newline. Values with spaces, quotes, '=' or
// control characters are quoted and escaped, so every line splits back into its fields.
std::string FormatLine(Format format, Level level, std::string_view message,
                       std::initializer_list<Field> fields);

void Write(Level level, std::string_view message, std::initializer_list<Field> fields = {});
inline void Debug(std::string_view message, std::initializer_list<Field> fields = {}) {
  Write(Level::kDebug, message, fields);
}
inline void Info(std::string_view message, std::initializer_list<Field> fields = {}) {
  Write(Level::kInfo, message, fields);
}
inline void Warning(std::string_view message, std::initializer_list<Field> fields = {}) {
  Write(Level::kWarning, message, fields);
}
inline void Error(std::string_view message, std::initializer_list<Field> fields = {}) {
  Write(Level::kError, message, fields);
}

}  // namespace moat::log
