// The web login page and noVNC: desktops in the browser. The page (session-broker/web/) is built
// into the binary and served at / and /login, its script and style under /web/; noVNC is read
// once from display.novnc_dir (Debian's novnc package) and served from memory under /novnc/.
// Neither needs a token: the page logs in through the API, and the desktop's WebSocket
// (/api/v1/display) carries the token itself.
#include <chrono>
#include <memory>

#include "api/api.h"
#include "api/web_assets.h"
#include "http/static_files.h"
#include "moat/common/log.h"

namespace moat::broker::api {
namespace {

// Everything the page and noVNC load comes from the broker; the display WebSocket is the only
// connection they open. noVNC styles its elements through the CSSOM (element.style), which CSP
// does not restrict, so styles need no 'unsafe-inline'; its cursors are data: URLs, and its bell
// is a file of its own.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; media-src 'self'; connect-src 'self' wss:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

void AddSecurityHeaders(http::HttpResponse& response) {
  response.headers.Set("Content-Security-Policy", std::string(kContentSecurityPolicy));
  response.headers.Set("X-Frame-Options", "DENY");
  response.headers.Set("X-Content-Type-Options", "nosniff");
  response.headers.Set("Referrer-Policy", "no-referrer");
}

// A file of the page, ready to serve.
struct PageFile {
  std::string_view body;
  std::string content_type;
  std::string etag;
};

using PageFiles = std::map<std::string, PageFile, std::less<>>;

Result<std::shared_ptr<const PageFiles>> PageFilesFromAssets() {
  auto files = std::make_shared<PageFiles>();
  for (const WebAsset& asset : WebAssets()) {
    auto type = http::ContentTypeFor(asset.name);
    if (!type) {
      return Fail(
          InvalidArgument("web asset '" + std::string(asset.name) + "' has no known content type"));
    }
    files->emplace(std::string(asset.name),
                   PageFile{asset.body, std::string(*type), http::EntityTag(asset.body)});
  }
  if (!files->contains("index.html")) {
    return Fail(InvalidArgument("the web login page (index.html) is not built in"));
  }
  return std::shared_ptr<const PageFiles>(std::move(files));
}

// The page changes with the broker: browsers revalidate it on every load (a 304 when unchanged).
http::HttpResponse ServePageFile(const PageFiles& files, const http::HttpRequest& request,
                                 std::string_view name) {
  auto found = files.find(name);
  if (found == files.end()) {
    return http::JsonError(404, "not_found",
                           "no such resource '" + std::string(request.path()) + "'");
  }
  const PageFile& file = found->second;
  http::HttpResponse response;
  response.headers.Set("ETag", file.etag);
  response.headers.Set("Cache-Control", "no-cache");
  if (http::IfNoneMatch(request, file.etag)) {
    response.status = 304;
    return response;
  }
  response.headers.Set("Content-Type", file.content_type);
  response.body = std::string(file.body);
  return response;
}

// Routes a GET with the security headers and the request metrics, but without the API's guard:
// these need no token, and are cacheable.
Status WebRoute(http::Router& router, ApiContext& ctx, std::string_view pattern,
                std::function<http::HttpResponse(const http::HttpRequest&)> handler) {
  return router.Add(
      "GET", pattern, [&ctx, handler = std::move(handler)](const http::HttpRequest& request) {
        auto start = std::chrono::steady_clock::now();
        http::HttpResponse response = handler(request);
        AddSecurityHeaders(response);
        ctx.metrics.RecordRequest(response.status, std::chrono::steady_clock::now() - start);
        return response;
      });
}

}  // namespace

Status AddWebRoutes(http::Router& router, ApiContext& ctx) {
  MOAT_TRY(std::shared_ptr<const PageFiles> page, PageFilesFromAssets());
  auto index = [page](const http::HttpRequest& request) {
    return ServePageFile(*page, request, "index.html");
  };
  MOAT_TRY_VOID(WebRoute(router, ctx, "/", index));
  MOAT_TRY_VOID(WebRoute(router, ctx, "/login", index));
  MOAT_TRY_VOID(WebRoute(router, ctx, "/web/{file}", [page](const http::HttpRequest& request) {
    return ServePageFile(*page, request, request.PathParam("file"));
  }));

  auto novnc = std::make_shared<http::StaticFiles>(http::StaticFilesOptions{
      .root = ctx.config.novnc_dir,
      .cache_control = "public, max-age=86400",
      .name = "noVNC",
      .missing_hint = "install the Debian package 'novnc' (apt-get install novnc) or set "
                      "display.novnc_dir to a noVNC directory"});
  // Read now, so the first browser does not wait and a missing noVNC shows in the log at start;
  // a failure is retried on later requests (noVNC may be installed after the broker started).
  if (auto loaded = novnc->Load(); !loaded) {
    log::Warning(
        "noVNC unavailable: desktops in the browser will not work, ignoring",
        {{"novnc_dir", ctx.config.novnc_dir.string()}, {"error", loaded.error().message()}});
  } else {
    log::Debug("noVNC loaded", {{"novnc_dir", ctx.config.novnc_dir.string()},
                                {"files", std::to_string(novnc->file_count())}});
  }
  return WebRoute(router, ctx, "/novnc/{*file}", [novnc](const http::HttpRequest& request) {
    return novnc->Serve(request, request.PathParam("file"));
  });
}

}  // namespace moat::broker::api
