#include "http/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <exception>
#include <string_view>

namespace custvault::http {
namespace {

bool IsPlaceholder(std::string_view segment) {
  return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

// Splits "/a/b/" into {"a","b",""}; "/" into {}. `path` starts with '/'.
std::vector<std::string_view> SplitSegments(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.size() <= 1) return segments;
  path.remove_prefix(1);
  for (;;) {
    const size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t code_point;
    if ((byte & 0xE0) == 0xC0) {
      length = 2;
      code_point = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3;
      code_point = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4;
      code_point = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    if ((length == 2 && code_point < 0x80) || (length == 3 && code_point < 0x800) ||
        (length == 4 && code_point < 0x10000) || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

enum class DecodeMode { kPathSegment, kQueryComponent };

// Percent-decodes one path segment or one query key/value. Fails on a
// malformed escape, on NUL (escaped or not), on control characters in a
// path, and on decoded text that is not UTF-8.
bool PercentDecode(std::string_view in, DecodeMode mode, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int high = HexValue(in[i + 1]);
      const int low = HexValue(in[i + 2]);
      if (high < 0 || low < 0) return false;
      c = static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && mode == DecodeMode::kQueryComponent) {
      c = ' ';
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte == 0) return false;
    if (mode == DecodeMode::kPathSegment && (byte < 0x20 || byte == 0x7F)) return false;
    out->push_back(c);
  }
  return IsValidUtf8(*out);
}

// The parsed form of a target: decoded path segments and query.
struct ParsedTarget {
  std::vector<std::string> segments;
  std::map<std::string, std::string> query;
};

Status ParseTargetInto(std::string_view target, ParsedTarget* parsed) {
  if (target.empty() || target.front() != '/') {
    return InvalidArgument("request target must be an absolute path");
  }
  const size_t question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  const std::string_view raw_query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);

  const std::vector<std::string_view> raw_segments = SplitSegments(raw_path);
  if (raw_segments.size() > static_cast<size_t>(kPathSegmentsMax)) {
    return InvalidArgument("request path has too many segments");
  }
  parsed->segments.clear();
  parsed->segments.reserve(raw_segments.size());
  for (std::string_view raw : raw_segments) {
    std::string decoded;
    if (!PercentDecode(raw, DecodeMode::kPathSegment, &decoded)) {
      return InvalidArgument("request path has a malformed or forbidden escape");
    }
    parsed->segments.push_back(std::move(decoded));
  }

  parsed->query.clear();
  std::string_view rest = raw_query;
  // '#' never reaches a server from a browser; treat it as the end anyway.
  rest = rest.substr(0, rest.find('#'));
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2"
    if (parsed->query.size() >= static_cast<size_t>(kQueryParamsMax)) {
      return InvalidArgument("too many query parameters");
    }
    const size_t equals = pair.find('=');
    std::string key;
    std::string value;
    if (!PercentDecode(pair.substr(0, equals), DecodeMode::kQueryComponent, &key) ||
        (equals != std::string_view::npos &&
         !PercentDecode(pair.substr(equals + 1), DecodeMode::kQueryComponent, &value))) {
      return InvalidArgument("query string has a malformed or forbidden escape");
    }
    if (key.empty()) return InvalidArgument("query parameter without a name");
    // A repeated parameter is ambiguous (which one does a proxy or a filter
    // look at?), so it is refused rather than silently picking one.
    if (!parsed->query.emplace(std::move(key), std::move(value)).second) {
      return InvalidArgument("repeated query parameter");
    }
  }
  return Status::Ok();
}

std::string JoinPath(const std::vector<std::string>& segments) {
  if (segments.empty()) return "/";
  std::string path;
  for (const std::string& segment : segments) {
    path += '/';
    path += segment;
  }
  return path;
}

}  // namespace

Status ParseTarget(Request& request) {
  ParsedTarget parsed;
  RETURN_IF_ERROR(ParseTargetInto(request.target, &parsed));
  request.path = JoinPath(parsed.segments);
  request.query = std::move(parsed.query);
  return Status::Ok();
}

void Router::Add(std::string method, std::string pattern, Handler handler,
                 RouteClass route_class) {
  // Routes are fixed at start-up by our own code: a bad pattern is a bug.
  assert(!pattern.empty() && pattern.front() == '/' && "route pattern must start with '/'");
  assert(handler && "route without a handler");
  Route route;
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  for (std::string_view segment : SplitSegments(route.pattern)) {
    route.segments.emplace_back(segment);
  }
  route.handler = std::move(handler);
  route.route_class = route_class;
#ifndef NDEBUG
  for (const Route& existing : routes_) {
    assert(!(existing.method == route.method && existing.pattern == route.pattern) &&
           "route registered twice");
  }
#endif
  routes_.push_back(std::move(route));
}

std::vector<RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> infos;
  infos.reserve(routes_.size());
  for (const Route& route : routes_) {
    infos.push_back({route.method, route.pattern, route.route_class});
  }
  return infos;
}

const Router::Route* Router::Match(const std::string& method,
                                   const std::vector<std::string>& segments,
                                   std::vector<std::string>* allowed_methods) const {
  const Route* best = nullptr;
  std::vector<bool> best_literals;
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::vector<bool> literals(segments.size());
    bool matches = true;
    for (size_t i = 0; i < segments.size() && matches; ++i) {
      const std::string& pattern_segment = route.segments[i];
      if (IsPlaceholder(pattern_segment)) {
        matches = !segments[i].empty();
        literals[i] = false;
      } else {
        matches = pattern_segment == segments[i];
        literals[i] = true;
      }
    }
    if (!matches) continue;
    if (route.method != method) {
      if (allowed_methods != nullptr) allowed_methods->push_back(route.method);
      continue;
    }
    // Lexicographic on "literal here?": a literal beats a placeholder at
    // the first position where two routes differ.
    if (best == nullptr || best_literals < literals) {
      best = &route;
      best_literals = std::move(literals);
    }
  }
  return best;
}

RouteClass Router::ClassOf(const std::string& method, const std::string& target) const {
  ParsedTarget parsed;
  if (!ParseTargetInto(target, &parsed).ok()) return RouteClass::kNormal;
  const Route* route = Match(method, parsed.segments, nullptr);
  return route == nullptr ? RouteClass::kNormal : route->route_class;
}

Response Router::Dispatch(Request& request) const {
  if (filter_) filter_(request);
  ParsedTarget parsed;
  if (!request.target.empty()) {
    Status status = ParseTargetInto(request.target, &parsed);
    if (!status.ok()) return ErrorResponse(status);
    request.path = JoinPath(parsed.segments);
    request.query = std::move(parsed.query);
  } else {
    // Built in a test without a target: match the path as given.
    if (request.path.empty() || request.path.front() != '/') {
      return ErrorResponse(InvalidArgument("request path must be absolute"));
    }
    for (std::string_view segment : SplitSegments(request.path)) {
      parsed.segments.emplace_back(segment);
    }
  }
  const std::vector<std::string>& segments = parsed.segments;

  // Find the most specific route for this method; remember the methods of
  // routes whose path matches for the Allow header of a 405.
  std::vector<std::string> allowed_methods;
  const Route* best = Match(request.method, segments, &allowed_methods);

  if (best == nullptr) {
    if (allowed_methods.empty()) return ErrorResponse(NotFound("no such resource"));
    std::sort(allowed_methods.begin(), allowed_methods.end());
    allowed_methods.erase(std::unique(allowed_methods.begin(), allowed_methods.end()),
                          allowed_methods.end());
    std::string allow;
    for (const std::string& method : allowed_methods) {
      if (!allow.empty()) allow += ", ";
      allow += method;
    }
    // 405 has no ErrorCode of its own (nothing below http/ can produce it),
    // so its body is written here, in the same shape as every error.
    Response response = JsonResponse(
        405, boost::json::object{{"error", boost::json::object{
                                               {"code", "method_not_allowed"},
                                               {"message", "method not allowed for this resource"},
                                           }}});
    response.headers.emplace_back("Allow", std::move(allow));
    return response;
  }

  request.path_params.clear();
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& pattern_segment = best->segments[i];
    if (IsPlaceholder(pattern_segment)) {
      request.path_params[pattern_segment.substr(1, pattern_segment.size() - 2)] = segments[i];
    }
  }

  try {
    return best->handler(request);
  } catch (const std::exception&) {
    // Log the route only: the exception text may quote request data.
    spdlog::error("handler for {} {} threw an exception", best->method, best->pattern);
  } catch (...) {
    spdlog::error("handler for {} {} threw a non-standard exception", best->method, best->pattern);
  }
  return ErrorResponse(Internal("handler threw"));
}

}  // namespace custvault::http
