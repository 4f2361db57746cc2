// The Beast-free part of moat-common-net: URL parsing and response header lookup.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "moat/common/net/client.h"

namespace moat::net {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

bool IsIpv4(const std::string& text) {
  unsigned char buffer[4];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1;
}

bool IsIpv6(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// Letters, digits, '-' and '.': what DNS names and IPv4 literals are made of.
bool IsDnsName(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.front() == '-') return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

// Visible ASCII only: no spaces or control characters that could split the request line.
bool IsValidPath(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

Result<uint16_t> ParsePort(std::string_view text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Fail(InvalidArgument("port '" + std::string(text) + "' is not a number"));
  }
  int port = 0;
  for (char c : text) port = port * 10 + (c - '0');
  if (port < 1 || port > 65535) {
    return Fail(InvalidArgument("port " + std::to_string(port) + " is not in 1-65535"));
  }
  return static_cast<uint16_t>(port);
}

// "host", "host:port", "[v6]" or "[v6]:port" into `url`.
Status ParseAuthority(std::string_view authority, BaseUrl& url) {
  if (authority.empty()) return Fail(InvalidArgument("no host"));
  if (authority.find('@') != std::string_view::npos) {
    return Fail(InvalidArgument("user info ('…@') is not supported"));
  }
  std::string_view port_text;
  bool has_port = false;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Fail(InvalidArgument("'[' without ']'"));
    url.host = std::string(authority.substr(1, close - 1));
    if (!IsIpv6(url.host)) {
      return Fail(InvalidArgument("'" + url.host + "' in brackets is not an IPv6 address"));
    }
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Fail(InvalidArgument("junk after ']'"));
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      return Fail(InvalidArgument("an IPv6 address must be in brackets: '[::1]:8443'"));
    }
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
    if (!IsDnsName(url.host)) {
      return Fail(InvalidArgument("host '" + url.host + "' is not a DNS name or IP address"));
    }
  }
  url.port = 443;
  if (has_port) {
    MOAT_TRY(url.port, ParsePort(port_text));
  }
  return {};
}

}  // namespace

std::string BaseUrl::HostPort() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string BaseUrl::HostHeader() const {
  if (port != 443) return HostPort();
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

bool BaseUrl::host_is_ip() const { return IsIpv4(host) || IsIpv6(host); }

Result<BaseUrl> ParseUrl(std::string_view url) {
  auto fail = [&](const Error& error) {
    return Fail(error.Wrap("URL '" + std::string(url) + "'"));
  };
  BaseUrl out;
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return fail(InvalidArgument("no scheme; write 'https://host:port' or 'wss://host:port'"));
  }
  for (char c : url.substr(0, scheme_end)) {
    out.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (out.scheme != "https" && out.scheme != "wss") {
    return fail(InvalidArgument("scheme '" + out.scheme + "' is not https or wss"));
  }
  std::string_view rest = url.substr(scheme_end + 3);
  if (rest.find('#') != std::string_view::npos) {
    return fail(InvalidArgument("a fragment ('#…') is not supported"));
  }
  size_t path_start = rest.find_first_of("/?");
  if (auto status = ParseAuthority(rest.substr(0, path_start), out); !status) {
    return fail(status.error());
  }
  std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (!IsValidPath(path)) {
    return fail(InvalidArgument("the path has spaces or control characters"));
  }
  out.path = path.empty() || path.front() != '/' ? "/" + std::string(path) : std::string(path);
  return out;
}

std::optional<std::string> ClientResponse::Header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (EqualsIgnoreCase(field, name)) return value;
  }
  return std::nullopt;
}

}  // namespace moat::net
