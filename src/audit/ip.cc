#include "audit/ip.h"

#include <optional>

#include "store/audit_store.h"

namespace custvault::audit {

std::string ClientIp(std::string_view peer_ip, std::string_view x_forwarded_for,
                     const CidrSet& trusted_proxies) {
  std::optional<IpAddress> peer = ParseIpAddress(peer_ip);
  if (!peer) return std::string(peer_ip.substr(0, store::kAuditIpBytesMax));
  if (x_forwarded_for.empty() || x_forwarded_for.size() > kForwardedForBytesMax ||
      !trusted_proxies.Contains(*peer)) {
    return peer->ToString();
  }
  IpAddress client = *peer;
  std::string_view rest = x_forwarded_for;
  while (!rest.empty()) {
    const size_t comma = rest.rfind(',');
    const std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    std::optional<IpAddress> address = ParseIpAddress(hop);
    if (!address) break;
    client = *address;
    if (!trusted_proxies.Contains(client)) break;
  }
  return client.ToString();
}

}  // namespace custvault::audit
