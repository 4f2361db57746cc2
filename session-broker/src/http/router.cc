// Headers, requests, JSON errors and the Router: everything of http/server.h that needs no Beast.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "http/server.h"

namespace moat::broker::http {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes decoded; a malformed escape is kept as it is. In a query, '+' is a space.
std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

// "/a/b/c" -> {"a", "b", "c"}; "/" -> {}; "/a/" -> {"a", ""}.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.empty() || path == "/") return segments;
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      segments.push_back(path.substr(start));
      return segments;
    }
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

}  // namespace

std::optional<std::string_view> Headers::Get(std::string_view name) const {
  for (const auto& [key, value] : fields_) {
    if (EqualsIgnoreCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

void Headers::Set(std::string name, std::string value) {
  std::erase_if(fields_, [&](const auto& field) { return EqualsIgnoreCase(field.first, name); });
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::Add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

std::string_view HttpRequest::path() const {
  std::string_view view(target);
  return view.substr(0, view.find('?'));
}

std::optional<std::string> HttpRequest::QueryParam(std::string_view name) const {
  std::string_view view(target);
  size_t question = view.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = view.substr(question + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (PercentDecode(key, true) != name) continue;
    return eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

std::string_view HttpRequest::PathParam(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string_view() : std::string_view(it->second);
}

HttpResponse JsonError(int status, std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", code}, {"message", message}};
  // Replace rather than throw on invalid UTF-8 in a message that quotes client input.
  return JsonResponse(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

HttpResponse JsonResponse(int status, std::string json) {
  HttpResponse response;
  response.status = status;
  response.headers.Set("Content-Type", "application/json");
  response.body = std::move(json);
  return response;
}

Status Router::Add(std::string method, std::string_view pattern, Handler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    return Fail(
        InvalidArgument("route pattern '" + std::string(pattern) + "' is not an absolute path"));
  }
  Route route{std::move(method), std::string(pattern), {}, std::move(handler)};
  for (std::string_view segment : SplitPath(pattern)) {
    bool is_param = segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
    std::string text(is_param ? segment.substr(1, segment.size() - 2) : segment);
    bool is_rest = is_param && text.starts_with('*');
    if (is_rest) text.erase(0, 1);
    if (is_param && text.empty()) {
      return Fail(InvalidArgument("route pattern '" + route.pattern + "' has an empty '" +
                                  (is_rest ? "{*}" : "{}") + "'"));
    }
    if (!route.segments.empty() && route.segments.back().is_rest) {
      return Fail(InvalidArgument("route pattern '" + route.pattern + "' has '{*" +
                                  route.segments.back().text + "}' before its last segment"));
    }
    for (const Segment& earlier : route.segments) {
      if (is_param && earlier.is_param && earlier.text == text) {
        return Fail(
            InvalidArgument("route pattern '" + route.pattern + "' repeats '{" + text + "}'"));
      }
    }
    route.segments.push_back(Segment{std::move(text), is_param, is_rest});
  }
  for (const Route& existing : routes_) {
    if (existing.method == route.method && existing.pattern == route.pattern) {
      return Fail(InvalidArgument("route " + route.method + " '" + route.pattern +
                                  "' is already registered"));
    }
  }
  routes_.push_back(std::move(route));
  return {};
}

bool Router::Match(const Route& route, const std::vector<std::string>& segments,
                   std::map<std::string, std::string, std::less<>>* params) {
  bool has_rest = !route.segments.empty() && route.segments.back().is_rest;
  size_t fixed = route.segments.size() - (has_rest ? 1 : 0);
  if (has_rest ? segments.size() < fixed : segments.size() != fixed) return false;
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& want = route.segments[std::min(i, route.segments.size() - 1)];
    if (want.is_rest) {
      // An encoded slash would be indistinguishable from a separator once joined.
      if (segments[i].find('/') != std::string::npos) return false;
      if (params == nullptr) continue;
      std::string& rest = (*params)[want.text];
      if (i > fixed) rest += '/';
      rest += segments[i];
    } else if (want.is_param) {
      if (segments[i].empty()) return false;
      if (params != nullptr) (*params)[want.text] = segments[i];
    } else if (want.text != segments[i]) {
      return false;
    }
  }
  if (has_rest && params != nullptr) params->try_emplace(route.segments.back().text);  // "" if none
  return true;
}

HttpResponse Router::Dispatch(HttpRequest& request) const {
  std::vector<std::string> segments;
  for (std::string_view segment : SplitPath(request.path())) {
    segments.push_back(PercentDecode(segment, false));
  }
  std::vector<std::string_view> allowed_methods;
  for (const Route& route : routes_) {
    if (!Match(route, segments, nullptr)) continue;
    if (route.method != request.method) {
      if (std::find(allowed_methods.begin(), allowed_methods.end(), route.method) ==
          allowed_methods.end()) {
        allowed_methods.push_back(route.method);
      }
      continue;
    }
    request.path_params.clear();
    Match(route, segments, &request.path_params);
    try {
      return route.handler(request);
    } catch (...) {
      // A handler reports errors as responses; an exception is a bug, and its text may hold
      // internals that clients must not see.
      return JsonError(500, "internal", "internal error");
    }
  }
  if (!allowed_methods.empty()) {
    std::string allowed;
    for (std::string_view method : allowed_methods) {
      if (!allowed.empty()) allowed += ", ";
      allowed += method;
    }
    HttpResponse response = JsonError(405, "method_not_allowed",
                                      "method " + request.method + " is not allowed on '" +
                                          std::string(request.path()) + "'; allowed: " + allowed);
    response.headers.Set("Allow", allowed);
    return response;
  }
  return JsonError(404, "not_found", "no such resource '" + std::string(request.path()) + "'");
}

}  // namespace moat::broker::http
