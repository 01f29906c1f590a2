#include "service/sms_gateway.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>

namespace custvault::service {
namespace {

constexpr std::string_view kPhonePlaceholder = "{phone}";
constexpr std::string_view kMessagePlaceholder = "{message}";

bool ValidHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool ValidPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return value >= 1 && value <= 65535;
}

Status BadTemplate(const std::string& why) {
  return InvalidArgument("config key sms.url_template: " + why);
}

// "5分钟" / "5 minutes", or seconds when the TTL is not whole minutes.
std::pair<std::string, std::string> Validity(int ttl_seconds) {
  if (ttl_seconds % 60 == 0) {
    const std::string n = std::to_string(ttl_seconds / 60);
    return {n + "分钟", n + (ttl_seconds == 60 ? " minute" : " minutes")};
  }
  const std::string n = std::to_string(ttl_seconds);
  return {n + "秒", n + " seconds"};
}

}  // namespace

Status OutboxSmsGateway::Send(const std::string& phone, const std::string& message) {
  boost::json::object line{
      {"at", FormatRfc3339(env_->NowMicros())}, {"to", phone}, {"message", message}};
  std::string text = boost::json::serialize(line);
  text.push_back('\n');
  std::lock_guard lock(mutex_);
  // An adapter to the outside world, like a socket: it writes the file
  // itself because Env has no append. 0600 on creation; an existing file
  // is narrowed to 0600 too.
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable("cannot open the SMS outbox file");
  Status status = Status::Ok();
  if (::fchmod(fd, 0600) != 0) status = Unavailable("cannot set the SMS outbox file mode");
  size_t written = 0;
  while (status.ok() && written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = Unavailable("cannot write the SMS outbox file");
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (status.ok() && ::fsync(fd) != 0) status = Unavailable("cannot fsync the SMS outbox file");
  ::close(fd);
  return status;
}

Result<SmsUrlTemplate> ParseSmsUrlTemplate(std::string_view text) {
  if (text.empty()) return BadTemplate("is empty but sms.gateway is \"http\"");
  if (text.size() > kSmsUrlTemplateBytesMax) {
    return BadTemplate("is longer than " + std::to_string(kSmsUrlTemplateBytesMax) + " bytes");
  }
  SmsUrlTemplate parsed;
  if (text.substr(0, 4) == "GET ") {
    parsed.method = "GET";
    text.remove_prefix(4);
  } else if (text.substr(0, 5) == "POST ") {
    text.remove_prefix(5);
  }
  constexpr std::string_view kScheme = "http://";
  if (text.substr(0, kScheme.size()) != kScheme) {
    return BadTemplate("must be [GET |POST ]http://host[:port]/path?query");
  }
  text.remove_prefix(kScheme.size());
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#') {
      return BadTemplate("has a space, a control character or a fragment");
    }
  }
  const size_t slash = text.find_first_of("/?");
  const std::string_view authority = text.substr(0, slash);
  std::string_view rest = slash == std::string_view::npos ? "" : text.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return BadTemplate("must not carry credentials");
  }
  const size_t colon = authority.rfind(':');
  parsed.host = std::string(authority.substr(0, colon));
  if (colon != std::string_view::npos) parsed.port = std::string(authority.substr(colon + 1));
  if (!ValidHost(parsed.host) || !ValidPort(parsed.port)) return BadTemplate("bad host or port");
  const size_t question = rest.find('?');
  parsed.path_template = std::string(rest.substr(0, question));
  if (parsed.path_template.empty()) parsed.path_template = "/";
  if (question != std::string_view::npos) {
    parsed.query_template = std::string(rest.substr(question + 1));
  }
  const std::string whole = parsed.path_template + "?" + parsed.query_template;
  if (whole.find(kPhonePlaceholder) == std::string::npos ||
      whole.find(kMessagePlaceholder) == std::string::npos) {
    return BadTemplate("must contain {phone} and {message}");
  }
  if (parsed.method == "POST" && parsed.path_template.find('{') != std::string::npos) {
    // The point of POST is to keep them out of the request line.
    return BadTemplate("with POST, {phone} and {message} belong in the query part (the body)");
  }
  return parsed;
}

std::string FillSmsTemplate(std::string_view text, std::string_view phone,
                            std::string_view message) {
  auto encode = [](std::string_view value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size() * 3);
    for (unsigned char c : value) {
      const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                              c == '~';
      if (unreserved) {
        out.push_back(static_cast<char>(c));
      } else {
        out.push_back('%');
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
      }
    }
    return out;
  };
  std::string out;
  size_t at = 0;
  while (at < text.size()) {
    if (text.substr(at, kPhonePlaceholder.size()) == kPhonePlaceholder) {
      out += encode(phone);
      at += kPhonePlaceholder.size();
    } else if (text.substr(at, kMessagePlaceholder.size()) == kMessagePlaceholder) {
      out += encode(message);
      at += kMessagePlaceholder.size();
    } else {
      out.push_back(text[at++]);
    }
  }
  return out;
}

std::string CodeMessage(std::string_view code, int ttl_seconds) {
  const auto [zh, en] = Validity(ttl_seconds);
  const std::string c(code);
  return "【custvault】验证码 " + c + "，" + zh + "内有效。Your code is " + c + ", valid for " + en +
         ".";
}

std::string ContactChangedMessage(bool phone_changed, bool address_changed) {
  std::string zh;
  std::string en;
  if (phone_changed && address_changed) {
    zh = "您的手机号码和联系地址已更改";
    en = "Your phone number and address were changed";
  } else if (phone_changed) {
    zh = "您的手机号码已更改";
    en = "Your phone number was changed";
  } else {
    zh = "您的联系地址已更改";
    en = "Your address was changed";
  }
  return "【custvault】" + zh + "。如非本人操作，请立即联系我们。" + en +
         ". If this was not you, contact us at once.";
}

}  // namespace custvault::service
