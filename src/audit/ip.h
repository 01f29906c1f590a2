// The source IP an audit entry records (R-AUD-1). X-Forwarded-For is
// believed only when the connection comes from a configured trusted proxy:
// anyone else could write any address into it.
#pragma once

#include <string>
#include <string_view>

#include "common/cidr.h"

namespace custvault::audit {

// Longest X-Forwarded-For value looked at; a longer header is ignored (the
// peer address is recorded).
inline constexpr size_t kForwardedForBytesMax = 2048;

// The client address for a request from `peer_ip`:
// - peer not in `trusted_proxies` (or no header): the peer, as given;
// - otherwise X-Forwarded-For is read from the right (the hop nearest to
//   us), skipping addresses that are themselves trusted proxies; the first
//   untrusted one is the client. If every hop is trusted, the leftmost.
// An unparsable hop stops the walk and the last good address is taken
// (never the unparsable text). Addresses are returned in canonical form.
std::string ClientIp(std::string_view peer_ip, std::string_view x_forwarded_for,
                     const CidrSet& trusted_proxies);

}  // namespace custvault::audit
