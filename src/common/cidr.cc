#include "common/cidr.h"

#include <arpa/inet.h>

#include <cstring>

namespace custvault {
namespace {

// Long enough for any IPv6 text with an embedded IPv4 part, plus a zone.
constexpr size_t kIpTextBytesMax = 64;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool IsV4Mapped(const uint8_t* bytes) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes, kPrefix, sizeof kPrefix) == 0;
}

// Whether the first prefix_bits bits of a and b are equal.
bool PrefixEqual(const IpAddress& a, const IpAddress& b, int prefix_bits) {
  const int whole_bytes = prefix_bits / 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), static_cast<size_t>(whole_bytes)) != 0) {
    return false;
  }
  const int rest_bits = prefix_bits % 8;
  if (rest_bits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest_bits));
  return (a.bytes[whole_bytes] & mask) == (b.bytes[whole_bytes] & mask);
}

bool HostBitsClear(const IpAddress& ip, int prefix_bits) {
  const int bits = static_cast<int>(ip.size()) * 8;
  for (int bit = prefix_bits; bit < bits; ++bit) {
    if (ip.bytes[bit / 8] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

}  // namespace

std::string IpAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(is_v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text) == nullptr) return "";
  return text;
}

std::optional<IpAddress> ParseIpAddress(std::string_view text) {
  text = Trim(text);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() > kIpTextBytesMax) return std::nullopt;
  const bool has_colon = text.find(':') != std::string_view::npos;
  if (has_colon) {
    const size_t zone = text.find('%');
    if (zone != std::string_view::npos) text = text.substr(0, zone);
  }
  const std::string copy(text);  // inet_pton wants a terminated string
  IpAddress ip;
  if (has_colon) {
    if (inet_pton(AF_INET6, copy.c_str(), ip.bytes.data()) != 1) return std::nullopt;
    if (IsV4Mapped(ip.bytes.data())) {
      std::memmove(ip.bytes.data(), ip.bytes.data() + 12, 4);
      std::memset(ip.bytes.data() + 4, 0, 12);
      ip.is_v6 = false;
    } else {
      ip.is_v6 = true;
    }
    return ip;
  }
  // inet_pton(AF_INET) accepts only the dotted-quad form, never "1" or "0x7f.1".
  if (inet_pton(AF_INET, copy.c_str(), ip.bytes.data()) != 1) return std::nullopt;
  return ip;
}

Result<CidrSet> CidrSet::Parse(std::string_view comma_separated) {
  CidrSet set;
  if (Trim(comma_separated).empty()) return set;
  std::string_view rest = comma_separated;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    if (item.empty()) return InvalidArgument("empty item in the CIDR list");
    if (set.blocks_.size() == kCidrSetEntriesMax) {
      return InvalidArgument("more than " + std::to_string(kCidrSetEntriesMax) + " CIDR blocks");
    }
    const std::string shown(item.substr(0, kIpTextBytesMax));
    const size_t slash = item.find('/');
    std::optional<IpAddress> network = ParseIpAddress(item.substr(0, slash));
    if (!network) return InvalidArgument("not an IP address or CIDR block: " + shown);
    const int bits = static_cast<int>(network->size()) * 8;
    int prefix_bits = bits;
    if (slash != std::string_view::npos) {
      const std::string_view digits = item.substr(slash + 1);
      if (digits.empty() || digits.size() > 3) {
        return InvalidArgument("bad prefix length in CIDR block: " + shown);
      }
      prefix_bits = 0;
      for (char c : digits) {
        if (c < '0' || c > '9') return InvalidArgument("bad prefix length in CIDR block: " + shown);
        prefix_bits = prefix_bits * 10 + (c - '0');
      }
      // An IPv4-mapped network written in IPv6 form (::ffff:10.0.0.0/104)
      // counts its prefix over 128 bits; convert it to the IPv4 form.
      if (!network->is_v6 && item.find(':') != std::string_view::npos) {
        if (prefix_bits < 96) {
          return InvalidArgument("IPv4-mapped CIDR block needs a prefix of at least 96: " + shown);
        }
        prefix_bits -= 96;
      }
      if (prefix_bits > bits) {
        return InvalidArgument("prefix longer than the address in CIDR block: " + shown);
      }
    }
    if (!HostBitsClear(*network, prefix_bits)) {
      return InvalidArgument("host bits set beyond the prefix in CIDR block: " + shown);
    }
    set.blocks_.push_back(Block{*network, prefix_bits});
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return set;
}

bool CidrSet::Contains(std::string_view ip_text) const {
  if (blocks_.empty()) return false;
  std::optional<IpAddress> ip = ParseIpAddress(ip_text);
  return ip && Contains(*ip);
}

bool CidrSet::Contains(const IpAddress& ip) const {
  for (const Block& block : blocks_) {
    if (block.network.is_v6 == ip.is_v6 && PrefixEqual(block.network, ip, block.prefix_bits)) {
      return true;
    }
  }
  return false;
}

}  // namespace custvault
