#include "moat/common/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace moat::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{DetectFormat()};
std::mutex g_sink_mutex;
Sink g_sink;  // guarded by g_sink_mutex; empty means stderr

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarning:
      return "WARNING";
    case Level::kError:
      return "ERROR";
  }
  return "INFO";
}

// sd-daemon(3) priorities: debug 7, info 6, warning 4, err 3.
std::string_view JournalPrefix(Level level) {
  switch (level) {
    case Level::kDebug:
      return "<7>";
    case Level::kInfo:
      return "<6>";
    case Level::kWarning:
      return "<4>";
    case Level::kError:
      return "<3>";
  }
  return "<6>";
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void AppendValue(std::string& out, std::string_view value) {
  if (!NeedsQuotes(value)) {
    out += value;
    return;
  }
  out += '"';
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < ' ' || c == 0x7f) {
          char escaped[8];
          (void)std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// A message is free text, but stays on one line.
void AppendMessage(std::string& out, std::string_view message) {
  for (char c : message) out += (c == '\n' || c == '\r') ? ' ' : c;
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  (void)std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, static_cast<int>(ms % 1000));
  return buffer;
}

void WriteStderr(std::string_view line) {
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + done, line.size() - done);
    if (n <= 0) return;  // nowhere left to report a failed log write
    done += static_cast<size_t>(n);
  }
}

}  // namespace

void SetLevel(Level level) { g_level.store(level); }
Level GetLevel() { return g_level.load(); }
void SetFormat(Format format) { g_format.store(format); }

Format DetectFormat() {
  // systemd sets JOURNAL_STREAM to "DEV:INO" of the stream it connected; only if that is our
  // stderr does the journal see the prefixes (stderr may have been redirected since).
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return Format::kText;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return Format::kText;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return Format::kText;
  return st.st_dev == dev && st.st_ino == ino ? Format::kJournal : Format::kText;
}

void SetSink(Sink sink) {
  std::lock_guard lock(g_sink_mutex);
  g_sink = std::move(sink);
}

bool ParseLevel(std::string_view text, Level& out) {
  if (text == "debug") {
    out = Level::kDebug;
  } else if (text == "info") {
    out = Level::kInfo;
  } else if (text == "warning" || text == "warn") {
    out = Level::kWarning;
  } else if (text == "error") {
    out = Level::kError;
  } else {
    return false;
  }
  return true;
}

std::string FormatLine(Format format, Level level, std::string_view message,
                       std::initializer_list<Field> fields) {
  std::string line;
  if (format == Format::kJournal) {
    line += JournalPrefix(level);
  } else {
    line += Timestamp();
    line += ' ';
    line += LevelName(level);
    line += ' ';
  }
  AppendMessage(line, message);
  for (const auto& field : fields) {
    line += ' ';
    line += field.key;
    line += '=';
    AppendValue(line, field.value);
  }
  return line;
}

void Write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (level < g_level.load()) return;
  std::string line = FormatLine(g_format.load(), level, message, fields);
  line += '\n';
  std::lock_guard lock(g_sink_mutex);
  if (g_sink) {
    g_sink(std::string_view(line).substr(0, line.size() - 1));
  } else {
    WriteStderr(line);
  }
}

}  // namespace moat::log
