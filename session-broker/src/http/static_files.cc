#include "http/static_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <system_error>
#include <utility>

#include "moat/common/unique_fd.h"

namespace moat::broker::http {
namespace {

struct TypeByExtension {
  std::string_view extension;
  std::string_view content_type;
};

// What noVNC and the login page are made of. Anything else in the directory (READMEs, scripts,
// Makefiles) is not served.
constexpr std::array<TypeByExtension, 21> kContentTypes = {{
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},  // ES modules are refused under any other type
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".webp", "image/webp"},
    {".wasm", "application/wasm"},
    {".woff", "font/woff"},
    {".woff2", "font/woff2"},
    {".ttf", "font/ttf"},
    {".mp3", "audio/mpeg"},
    {".oga", "audio/ogg"},
    {".ogg", "audio/ogg"},
}};

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool Within(const std::filesystem::path& root, const std::filesystem::path& path) {
  std::filesystem::path relative = path.lexically_relative(root);
  return !relative.empty() && *relative.begin() != ".." && !relative.is_absolute();
}

std::string Quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

// The whole of a regular file, opened without following a final symbolic link.
Result<std::string> ReadRegularFile(const std::filesystem::path& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!fd) return FailErrno("open", path.string());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return FailErrno("fstat", path.string());
  if (!S_ISREG(st.st_mode)) return Fail(InvalidArgument(Quoted(path) + " is not a regular file"));
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return Fail(
        InvalidArgument(Quoted(path) + " is larger than " + std::to_string(max_bytes) + " bytes"));
  }
  std::string body(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < body.size()) {
    ssize_t n = ::read(fd.get(), body.data() + done, body.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno("read", path.string());
    if (n == 0) break;  // shrank while read: serve what is there
    done += static_cast<size_t>(n);
  }
  body.resize(done);
  return body;
}

}  // namespace

std::optional<std::string_view> ContentTypeFor(std::string_view file_name) {
  size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || file_name.find('/', dot) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string extension(file_name.substr(dot));
  for (char& c : extension) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (const auto& [known, type] : kContentTypes) {
    if (known == extension) return type;
  }
  return std::nullopt;
}

std::string EntityTag(std::string_view body) {
  // FNV-1a: fast, stable across runs; an ETag needs no collision resistance against an attacker
  // (the files are the operator's), and the size is part of the tag as well.
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : body) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  std::array<char, 48> text{};
  std::snprintf(text.data(), text.size(), "\"%016llx-%zx\"", static_cast<unsigned long long>(hash),
                body.size());
  return text.data();
}

bool IfNoneMatch(const HttpRequest& request, std::string_view etag) {
  auto header = request.headers.Get("If-None-Match");
  if (!header) return false;
  std::string_view list = *header;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view tag = Trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

bool IsPlainRelativePath(std::string_view relative) {
  if (relative.empty() || relative.size() > 4096) return false;
  if (relative.find('\0') != std::string_view::npos ||
      relative.find('\\') != std::string_view::npos) {
    return false;
  }
  while (true) {
    size_t slash = relative.find('/');
    std::string_view segment = relative.substr(0, slash);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (slash == std::string_view::npos) return true;
    relative.remove_prefix(slash + 1);
  }
}

StaticFiles::StaticFiles(Options options) : options_(std::move(options)) {}

Status StaticFiles::Load() const {
  MOAT_TRY_VOID(Loaded());
  return {};
}

size_t StaticFiles::file_count() const {
  std::lock_guard lock(mutex_);
  return files_ ? files_->size() : 0;
}

Result<std::shared_ptr<const StaticFiles::Files>> StaticFiles::Loaded() const {
  std::lock_guard lock(mutex_);
  if (files_) return files_;
  auto now = std::chrono::steady_clock::now();
  if (failure_ && now - failed_at_ < options_.retry_after) return Fail(*failure_);
  auto loaded = ReadDirectory();
  if (!loaded) {
    failure_ = loaded.error();
    failed_at_ = now;
    return Fail(std::move(loaded).error());
  }
  failure_.reset();
  files_ = std::move(*loaded);
  return files_;
}

Result<std::shared_ptr<const StaticFiles::Files>> StaticFiles::ReadDirectory() const {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root = fs::canonical(options_.root, ec);
  if (ec == std::errc::no_such_file_or_directory) {
    return Fail(Error(ec, Quoted(options_.root) + " does not exist"));
  }
  if (ec) return Fail(Error(ec, Quoted(options_.root) + ": " + ec.message()));
  if (!fs::is_directory(root, ec)) {
    return Fail(Error(std::make_error_code(std::errc::not_a_directory),
                      Quoted(options_.root) + " is not a directory"));
  }
  auto files = std::make_shared<Files>();
  size_t total = 0;
  // Symbolic links to directories are not followed; one to a file counts only if the file it
  // leads to is inside the directory too (Debian's vnc_auto.html -> vnc.html).
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::string name = entry.path().filename().string();
    fs::file_status status = entry.symlink_status(ec);
    if (ec) break;
    if (name.starts_with('.')) {
      if (fs::is_directory(status)) it.disable_recursion_pending();
      continue;  // hidden files and directories are nobody's business
    }
    if (!fs::is_regular_file(status) && !fs::is_symlink(status)) continue;
    auto type = ContentTypeFor(name);
    if (!type) continue;
    std::error_code resolve_ec;
    fs::path target = fs::canonical(entry.path(), resolve_ec);
    if (resolve_ec || !Within(root, target) || !fs::is_regular_file(target, resolve_ec)) continue;
    std::string relative = entry.path().lexically_relative(root).generic_string();
    if (!IsPlainRelativePath(relative)) continue;
    if (files->size() >= options_.max_files) {
      return Fail(InvalidArgument(Quoted(options_.root) + " holds more than " +
                                  std::to_string(options_.max_files) + " files"));
    }
    MOAT_TRY(std::string body, ReadRegularFile(target, options_.max_file_bytes));
    total += body.size();
    if (total > options_.max_total_bytes) {
      return Fail(InvalidArgument(Quoted(options_.root) + " holds more than " +
                                  std::to_string(options_.max_total_bytes) + " bytes"));
    }
    std::string etag = EntityTag(body);
    files->emplace(std::move(relative), File{std::move(body), *type, std::move(etag)});
  }
  if (ec) return Fail(Error(ec, "read directory " + Quoted(options_.root) + ": " + ec.message()));
  return std::shared_ptr<const Files>(std::move(files));
}

HttpResponse StaticFiles::Serve(const HttpRequest& request, std::string_view relative) const {
  auto not_found = [&] {
    return JsonError(404, "not_found", "no such resource '" + std::string(request.path()) + "'");
  };
  // Only names that the directory's walk could have produced are looked up at all.
  if (!IsPlainRelativePath(relative)) return not_found();
  auto files = Loaded();
  if (!files) {
    const Error& error = files.error();
    bool missing = error.code() == std::errc::no_such_file_or_directory;
    std::string message =
        options_.name + (missing ? " is not installed: " : " is unavailable: ") + error.message();
    if (!options_.missing_hint.empty()) message += "; " + options_.missing_hint;
    return JsonError(404, "not_found", message);
  }
  auto found = (*files)->find(relative);
  if (found == (*files)->end()) return not_found();
  const File& file = found->second;
  HttpResponse response;
  response.headers.Set("ETag", file.etag);
  response.headers.Set("Cache-Control", options_.cache_control);
  if (IfNoneMatch(request, file.etag)) {
    response.status = 304;
    return response;
  }
  response.status = 200;
  response.headers.Set("Content-Type", std::string(file.content_type));
  response.headers.Set("X-Content-Type-Options", "nosniff");
  response.body = file.body;
  return response;
}

}  // namespace moat::broker::http
