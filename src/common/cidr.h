// CidrSet: IPv4 and IPv6 address ranges written as CIDR blocks, for the
// trusted proxies of the audit log (whose X-Forwarded-For is believed) and
// for account IP allow-lists.
//
// Pure: no I/O, no DNS. Thread safety: a const CidrSet may be shared by
// many threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace custvault {

// Longest list a CidrSet accepts; a configuration with more is refused.
inline constexpr size_t kCidrSetEntriesMax = 1024;

// An IPv4 or IPv6 address. IPv4 addresses are kept in 4 bytes; an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) is turned into its IPv4 form so
// that one rule covers both spellings of the same peer.
struct IpAddress {
  bool is_v6 = false;
  std::array<uint8_t, 16> bytes{};  // the first 4 bytes for IPv4

  size_t size() const { return is_v6 ? 16 : 4; }
  // Canonical text ("192.0.2.1", "2001:db8::1").
  std::string ToString() const;
  bool operator==(const IpAddress&) const = default;
};

// Parses "192.0.2.1", "2001:db8::1", "[2001:db8::1]" and drops an IPv6 zone
// ("fe80::1%eth0"). nullopt for anything else (host names included).
std::optional<IpAddress> ParseIpAddress(std::string_view text);

class CidrSet {
 public:
  CidrSet() = default;  // empty: contains nothing

  // Parses a comma-separated list of CIDR blocks ("10.0.0.0/8, ::1/128") or
  // bare addresses (a /32 or /128). Blanks around items are ignored; an
  // empty text gives an empty set. kInvalidArgument names the bad item (a
  // configuration value, never personal data) for a malformed address, a
  // prefix longer than the address, host bits set beyond the prefix, or
  // more than kCidrSetEntriesMax items.
  static Result<CidrSet> Parse(std::string_view comma_separated);

  // Whether the address lies in any block. An unparsable text is not
  // contained.
  bool Contains(std::string_view ip_text) const;
  bool Contains(const IpAddress& ip) const;

  bool empty() const { return blocks_.empty(); }
  size_t size() const { return blocks_.size(); }

 private:
  struct Block {
    IpAddress network;
    int prefix_bits = 0;
  };
  std::vector<Block> blocks_;
};

}  // namespace custvault
