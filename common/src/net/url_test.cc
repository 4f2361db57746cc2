// URL parsing and response header lookup of moat-common-net: pure functions, no server.
#include <gtest/gtest.h>

#include "moat/common/net/client.h"

namespace moat::net {
namespace {

TEST(ParseUrlTest, SplitsHttpsAndWssUrls) {
  auto plain = ParseUrl("https://127.0.0.1:8443");
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(plain->scheme, "https");
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, 8443);
  EXPECT_EQ(plain->path, "/");
  EXPECT_TRUE(plain->host_is_ip());
  EXPECT_EQ(plain->HostPort(), "127.0.0.1:8443");

  auto events = ParseUrl("wss://host:9/api/v1/events?x=1");
  ASSERT_TRUE(events) << events.error().message();
  EXPECT_EQ(events->scheme, "wss");
  EXPECT_EQ(events->host, "host");
  EXPECT_EQ(events->port, 9);
  EXPECT_EQ(events->path, "/api/v1/events?x=1");
  EXPECT_FALSE(events->host_is_ip());

  auto defaults = ParseUrl("HTTPS://broker.example.com");
  ASSERT_TRUE(defaults) << defaults.error().message();
  EXPECT_EQ(defaults->scheme, "https");
  EXPECT_EQ(defaults->port, 443);
  EXPECT_EQ(defaults->HostHeader(), "broker.example.com");

  auto v6 = ParseUrl("https://[::1]:8443/base/");
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->path, "/base/");
  EXPECT_TRUE(v6->host_is_ip());
  EXPECT_EQ(v6->HostPort(), "[::1]:8443");
  EXPECT_EQ(ParseUrl("wss://[fe80::1]")->HostHeader(), "[fe80::1]");

  auto query_only = ParseUrl("wss://h:1?token=t");
  ASSERT_TRUE(query_only);
  EXPECT_EQ(query_only->path, "/?token=t");
}

TEST(ParseUrlTest, RejectsEverythingElseNamingTheProblem) {
  struct Case {
    const char* url;
    const char* complaint;
  };
  const Case cases[] = {
      {"", "no scheme"},
      {"127.0.0.1:8443", "no scheme"},
      {"http://127.0.0.1", "scheme 'http' is not https or wss"},
      {"ftp://x", "is not https or wss"},
      {"https://", "no host"},
      {"https:///path", "no host"},
      {"https://host:", "port '' is not a number"},
      {"https://host:0", "port 0 is not in 1-65535"},
      {"https://host:65536", "port 65536 is not in 1-65535"},
      {"https://host:12ab", "port '12ab' is not a number"},
      {"https://host:-1", "is not a number"},
      {"https://::1:8443", "must be in brackets"},
      {"https://[::1", "without ']'"},
      {"https://[nonsense]:1", "is not an IPv6 address"},
      {"https://[::1]x", "junk after ']'"},
      {"https://user:pw@host", "user info"},
      {"https://host/#top", "fragment"},
      {"https://ho st/", "is not a DNS name"},
      {"https://host/a b", "spaces or control characters"},
      {"https://host/a\r\nX: y", "spaces or control characters"},
  };
  for (const auto& c : cases) {
    auto url = ParseUrl(c.url);
    ASSERT_FALSE(url) << "'" << c.url << "' was accepted";
    const std::string& message = url.error().message();
    EXPECT_NE(message.find(c.complaint), std::string::npos) << c.url << ": " << message;
    EXPECT_NE(message.find(std::string("URL '") + c.url + "'"), std::string::npos) << message;
    EXPECT_EQ(url.error().code(), std::errc::invalid_argument);
  }
}

TEST(ClientResponseTest, HeaderLookupIgnoresCase) {
  ClientResponse response{200, {{"Content-Type", "a/b"}, {"X-Two", "1"}, {"x-two", "2"}}, ""};
  EXPECT_EQ(response.Header("content-type"), "a/b");
  EXPECT_EQ(response.Header("X-TWO"), "1");
  EXPECT_EQ(response.Header("missing"), std::nullopt);
}

}  // namespace
}  // namespace moat::net
