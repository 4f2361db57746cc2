// StaticFiles against real directories: content types, caching headers, conditional requests,
// and every way a request could try to reach a file outside the directory.
#include "http/static_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "moat/common/testing/temp_dir.h"

namespace moat::broker::http {
namespace {

namespace fs = std::filesystem;
using TempDir = ::moat::testing::TempDir;

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

HttpRequest Get(std::string target, std::optional<std::string> if_none_match = {}) {
  HttpRequest request{"GET", std::move(target), {}, {}, {}, 0, {}};
  if (if_none_match) request.headers.Set("If-None-Match", *if_none_match);
  return request;
}

// A directory shaped like Debian's /usr/share/novnc, beside a secret it must never serve.
class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Write(root() / "core" / "rfb.js", "export default class RFB {}\n");
    Write(root() / "vendor" / "pako" / "lib" / "zlib" / "inflate.js", "export function a() {}\n");
    Write(root() / "app" / "styles" / "base.css", "body { margin: 0 }\n");
    Write(root() / "app" / "images" / "icons" / "novnc.svg", "<svg/>");
    Write(root() / "app" / "images" / "icons" / "novnc-16x16.png", std::string("\x89PNG\0\1", 6));
    Write(root() / "app" / "locale" / "de.json", "{}");
    Write(root() / "favicon.ico", "ico");
    Write(root() / "decoder.wasm", std::string("\0asm", 4));
    Write(root() / "vnc.html", "<!doctype html>");
    Write(root() / "README.md", "not served");
    Write(root() / "utils" / "novnc_proxy", "#!/bin/sh\n");
    Write(root() / ".hidden.js", "hidden");
    Write(root() / ".git" / "config.json", "{}");
    Write(temp_.path() / "secret.js", "secret");
    Write(temp_.path() / "outside" / "secret.js", "secret");
    fs::create_symlink("vnc.html", root() / "vnc_auto.html");           // inside: served
    fs::create_symlink("../secret.js", root() / "escape.js");           // outside: never
    fs::create_symlink(temp_.path() / "secret.js", root() / "abs.js");  // outside: never
    fs::create_symlink("../outside", root() / "linked");                // a directory: never
    fs::create_symlink("/etc/passwd", root() / "passwd.txt");           // outside: never
    fs::create_symlink("missing.js", root() / "dangling.js");
  }

  fs::path root() const { return temp_.path() / "novnc"; }
  std::string OnDisk(const std::string& relative) const {
    std::ifstream in(root() / relative, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  StaticFiles Files() const { return StaticFiles({.root = root()}); }

  TempDir temp_;
};

TEST_F(StaticFilesTest, ServesEachFileWithItsTypeAndCacheHeaders) {
  StaticFiles files = Files();
  struct Case {
    const char* path;
    const char* type;
  };
  for (const Case& c :
       {Case{"core/rfb.js", "text/javascript; charset=utf-8"},
        Case{"vendor/pako/lib/zlib/inflate.js", "text/javascript; charset=utf-8"},
        Case{"app/styles/base.css", "text/css; charset=utf-8"},
        Case{"app/images/icons/novnc.svg", "image/svg+xml"},
        Case{"app/images/icons/novnc-16x16.png", "image/png"},
        Case{"app/locale/de.json", "application/json"}, Case{"favicon.ico", "image/x-icon"},
        Case{"decoder.wasm", "application/wasm"}, Case{"vnc.html", "text/html; charset=utf-8"}}) {
    HttpResponse response = files.Serve(Get(std::string("/novnc/") + c.path), c.path);
    EXPECT_EQ(response.status, 200) << c.path << ": " << response.body;
    EXPECT_EQ(response.headers.Get("Content-Type"), c.type) << c.path;
    EXPECT_EQ(response.headers.Get("Cache-Control"), "public, max-age=86400") << c.path;
    EXPECT_EQ(response.headers.Get("X-Content-Type-Options"), "nosniff") << c.path;
    EXPECT_TRUE(response.headers.Get("ETag").has_value()) << c.path;
    EXPECT_EQ(response.body, OnDisk(c.path)) << c.path;
  }
  EXPECT_EQ(files.file_count(), 10u);  // the nine above and vnc_auto.html
}

TEST_F(StaticFilesTest, ASymlinkInsideTheDirectoryIsServed) {
  StaticFiles files = Files();
  HttpResponse response = files.Serve(Get("/novnc/vnc_auto.html"), "vnc_auto.html");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "<!doctype html>");
}

TEST_F(StaticFilesTest, AMatchingIfNoneMatchGets304WithoutABody) {
  StaticFiles files = Files();
  HttpResponse first = files.Serve(Get("/novnc/core/rfb.js"), "core/rfb.js");
  std::string etag(*first.headers.Get("ETag"));
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag, EntityTag(first.body));
  for (const std::string& header :
       {etag, "\"other\", " + etag, "W/" + etag, std::string("*"), " " + etag + " "}) {
    HttpResponse again = files.Serve(Get("/novnc/core/rfb.js", header), "core/rfb.js");
    EXPECT_EQ(again.status, 304) << header;
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(again.headers.Get("ETag"), etag);
    EXPECT_EQ(again.headers.Get("Cache-Control"), "public, max-age=86400");
  }
  HttpResponse changed = files.Serve(Get("/novnc/core/rfb.js", "\"stale\""), "core/rfb.js");
  EXPECT_EQ(changed.status, 200);
  // Another file has another tag.
  HttpResponse css = files.Serve(Get("/novnc/app/styles/base.css", etag), "app/styles/base.css");
  EXPECT_EQ(css.status, 200);
}

TEST_F(StaticFilesTest, NothingOutsideTheDirectoryIsEverServed) {
  StaticFiles files = Files();
  for (const char* relative : {"../secret.js",
                               "core/../../secret.js",
                               "core/../rfb.js",
                               "./core/rfb.js",
                               "core/./rfb.js",
                               "/etc/passwd",
                               "//etc/passwd",
                               "core//rfb.js",
                               "core/rfb.js/",
                               "escape.js",
                               "abs.js",
                               "linked/secret.js",
                               "passwd.txt",
                               "dangling.js",
                               "core\\rfb.js",
                               "..\\secret.js",
                               "..",
                               ".",
                               "",
                               "README.md",
                               "utils/novnc_proxy",
                               ".hidden.js",
                               ".git/config.json"}) {
    HttpResponse response = files.Serve(Get("/novnc/x"), relative);
    EXPECT_EQ(response.status, 404) << relative;
    EXPECT_EQ(response.headers.Get("Content-Type"), "application/json") << relative;
    EXPECT_EQ(response.body.find("secret"), std::string::npos) << relative;
  }
  std::string with_nul("core/rfb.js\0", 12);
  EXPECT_EQ(files.Serve(Get("/novnc/x"), with_nul).status, 404);
}

// The route as the broker registers it: percent-encoded dots and slashes, decoded by the router,
// still cannot leave the directory.
TEST_F(StaticFilesTest, EncodedTraversalThroughTheRouterGets404) {
  StaticFiles files = Files();
  Router router;
  ASSERT_TRUE(router.Add("GET", "/novnc/{*file}", [&files](const HttpRequest& request) {
    return files.Serve(request, request.PathParam("file"));
  }));
  auto get = [&](std::string target) {
    HttpRequest request = Get(std::move(target));
    return router.Dispatch(request);
  };
  EXPECT_EQ(get("/novnc/core/rfb.js").status, 200);
  EXPECT_EQ(get("/novnc/core/rfb.js?v=2").status, 200);
  EXPECT_EQ(get("/novnc/%63ore/rfb.js").status, 200);  // 'c': decoding itself is fine
  for (const char* target :
       {"/novnc/../secret.js", "/novnc/%2e%2e/secret.js", "/novnc/%2E%2E/%2E%2E/etc/passwd",
        "/novnc/core/%2e%2e/%2e%2e/secret.js", "/novnc/%2e%2e%2fsecret.js", "/novnc/core%2frfb.js",
        "/novnc/%2fetc%2fpasswd", "/novnc//etc/passwd", "/novnc/%00", "/novnc/core/rfb.js%00",
        "/novnc/", "/novnc", "/novnc/linked/secret.js", "/novnc/%5c..%5csecret.js"}) {
    HttpResponse response = get(target);
    EXPECT_EQ(response.status, 404) << target << ": " << response.body;
    EXPECT_NE(response.body, "secret") << target;
  }
}

TEST_F(StaticFilesTest, FilesAreReadOnceAndKeptInMemory) {
  StaticFiles files = Files();
  ASSERT_TRUE(files.Load());
  fs::remove(root() / "core" / "rfb.js");
  Write(root() / "new.js", "new");
  EXPECT_EQ(files.Serve(Get("/novnc/core/rfb.js"), "core/rfb.js").status, 200);
  EXPECT_EQ(files.Serve(Get("/novnc/new.js"), "new.js").status, 404);
}

TEST(StaticFiles, AMissingDirectoryGets404SayingWhatToInstall) {
  TempDir temp;
  StaticFiles files({.root = temp.path() / "novnc",
                     .name = "noVNC",
                     .missing_hint = "install the Debian package 'novnc'",
                     .retry_after = std::chrono::milliseconds(0)});
  EXPECT_FALSE(files.Load());
  HttpRequest request = Get("/novnc/core/rfb.js");
  HttpResponse response = files.Serve(request, "core/rfb.js");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.headers.Get("Content-Type"), "application/json");
  auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["error"], "not_found");
  std::string message = body["message"];
  EXPECT_EQ(message, "noVNC is not installed: '" + (temp.path() / "novnc").string() +
                         "' does not exist; install the Debian package 'novnc'");
  // Installed later: found on the next request once the retry delay passed.
  Write(temp.path() / "novnc" / "core" / "rfb.js", "export {};");
  EXPECT_EQ(files.Serve(request, "core/rfb.js").status, 200);
}

TEST(StaticFiles, AFailedLoadIsNotRetriedOnEveryRequest) {
  TempDir temp;
  StaticFiles files({.root = temp.path() / "novnc", .retry_after = std::chrono::hours(1)});
  EXPECT_FALSE(files.Load());
  Write(temp.path() / "novnc" / "a.js", "a");
  EXPECT_EQ(files.Serve(Get("/a.js"), "a.js").status, 404);
}

TEST(StaticFiles, ADirectoryTooLargeToKeepIsRefused) {
  TempDir temp;
  Write(temp.path() / "a.js", std::string(600, 'a'));
  Write(temp.path() / "b.js", std::string(600, 'b'));
  StaticFiles total({.root = temp.path(), .max_total_bytes = 1000});
  auto loaded = total.Load();
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find("more than 1000 bytes"), std::string::npos);
  HttpResponse response = total.Serve(Get("/a.js"), "a.js");
  EXPECT_EQ(response.status, 404);
  EXPECT_NE(response.body.find("unavailable"), std::string::npos) << response.body;
  StaticFiles one({.root = temp.path(), .max_file_bytes = 500});
  EXPECT_FALSE(one.Load());
  StaticFiles count({.root = temp.path(), .max_files = 1});
  EXPECT_FALSE(count.Load());
}

TEST(StaticFiles, AFileAsTheDirectoryIsRefused) {
  TempDir temp;
  Write(temp.path() / "file.js", "x");
  StaticFiles files({.root = temp.path() / "file.js"});
  auto loaded = files.Load();
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find("is not a directory"), std::string::npos);
}

TEST(ContentTypeFor, KnowsWhatBrowsersNeed) {
  EXPECT_EQ(ContentTypeFor("rfb.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("core/rfb.JS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("a.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("a.png"), "image/png");
  EXPECT_EQ(ContentTypeFor("a.ico"), "image/x-icon");
  EXPECT_EQ(ContentTypeFor("a.json"), "application/json");
  EXPECT_EQ(ContentTypeFor("a.wasm"), "application/wasm");
  EXPECT_EQ(ContentTypeFor("a.woff"), "font/woff");
  EXPECT_EQ(ContentTypeFor("a.oga"), "audio/ogg");
  EXPECT_FALSE(ContentTypeFor("Makefile"));
  EXPECT_FALSE(ContentTypeFor("README.md"));
  EXPECT_FALSE(ContentTypeFor("novnc_proxy"));
  EXPECT_FALSE(ContentTypeFor("a.js/b"));
  EXPECT_FALSE(ContentTypeFor("a.pl"));
}

TEST(IsPlainRelativePath, AcceptsOnlyNonEmptyForwardSegments) {
  EXPECT_TRUE(IsPlainRelativePath("a"));
  EXPECT_TRUE(IsPlainRelativePath("a/b.c/d"));
  EXPECT_TRUE(IsPlainRelativePath("..a/b.."));  // dots inside a name are fine
  EXPECT_FALSE(IsPlainRelativePath(""));
  EXPECT_FALSE(IsPlainRelativePath("/a"));
  EXPECT_FALSE(IsPlainRelativePath("a/"));
  EXPECT_FALSE(IsPlainRelativePath("a//b"));
  EXPECT_FALSE(IsPlainRelativePath("a/../b"));
  EXPECT_FALSE(IsPlainRelativePath("a/./b"));
  EXPECT_FALSE(IsPlainRelativePath("a\\b"));
}

}  // namespace
}  // namespace moat::broker::http
