// Hashes and MACs: SM3 (GB/T 32905), HMAC-SM3 (GM/T 0042), SHA-256.
// Thread-safe (each call uses its own context).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace custvault::crypto {

inline constexpr size_t kSm3DigestBytes = 32;
using Digest32 = std::array<uint8_t, 32>;

Digest32 Sm3(std::string_view data);
Digest32 HmacSm3(std::string_view key, std::string_view data);
Digest32 Sha256(std::string_view data);

inline std::string_view DigestView(const Digest32& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace custvault::crypto
