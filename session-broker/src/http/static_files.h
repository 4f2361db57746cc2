// A directory of static files (noVNC, from Debian's novnc package) served from memory: read once,
// on the first request, and kept, so a page that loads ~60 ES modules costs no disk access after
// that. Only regular files inside the directory with a known content type are loaded; a request
// names one of them exactly ("core/rfb.js") or gets 404, so `..`, encoded dots, absolute paths
// and symbolic links that lead out of the directory never reach a file outside it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "http/server.h"
#include "moat/common/error.h"

namespace moat::broker::http {

// The Content-Type for a file name by its extension ("text/javascript; charset=utf-8" for .js,
// which browsers require of ES modules), or nullopt for an extension that is not served.
std::optional<std::string_view> ContentTypeFor(std::string_view file_name);

// A strong entity tag for `body`: a quoted hash of its bytes, the same across restarts.
std::string EntityTag(std::string_view body);

// True when the request's If-None-Match names `etag` (or is `*`); weak tags compare by value.
bool IfNoneMatch(const HttpRequest& request, std::string_view etag);

// True when `relative` is a plain relative path: non-empty segments separated by '/', none of
// them "." or "..", and no NUL or backslash.
bool IsPlainRelativePath(std::string_view relative);

struct StaticFilesOptions {
  std::filesystem::path root{};
  std::string cache_control = "public, max-age=86400";
  // The 404 for a directory that cannot be loaded reads "<name> is not installed: '<root>' does
  // not exist; <missing_hint>" (or "is unavailable: <reason>" for other failures).
  std::string name = "static files";
  std::string missing_hint{};
  // Bounds that keep a wrong directory (say "/") from being read into memory.
  size_t max_file_bytes = 16 << 20;
  size_t max_total_bytes = 64 << 20;
  size_t max_files = 20000;
  // After a failed load, requests answer the same 404 for this long before trying again.
  std::chrono::milliseconds retry_after{10'000};
};

class StaticFiles {
 public:
  using Options = StaticFilesOptions;

  explicit StaticFiles(Options options);

  // The answer to a GET of `relative` (the request path below the directory's URL prefix,
  // decoded): 200 with the file, 304 when If-None-Match names its ETag, 404 as a JSON error for
  // anything else; 404 with the reason and `missing_hint` when the directory cannot be loaded.
  HttpResponse Serve(const HttpRequest& request, std::string_view relative) const;

  // Loads the directory if that has not happened yet (Serve does it on first use).
  Status Load() const;

  // Files loaded (0 before loading); for tests and the log.
  size_t file_count() const;

 private:
  struct File {
    std::string body;
    std::string_view content_type;
    std::string etag;
  };
  using Files = std::map<std::string, File, std::less<>>;

  Result<std::shared_ptr<const Files>> Loaded() const;
  Result<std::shared_ptr<const Files>> ReadDirectory() const;

  Options options_;
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const Files> files_;
  mutable std::optional<Error> failure_;
  mutable std::chrono::steady_clock::time_point failed_at_{};
};

}  // namespace moat::broker::http
