// Hashes and MACs: SM3 (GB/T 32905), HMAC-SM3 (GM/T 0042), SHA-256.
// Thread-safe (each call uses its own context).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace custvault::crypto {

inline constexpr size_t kSm3DigestBytes = 32;
inline constexpr size_t kSm3BlockBytes = 64;
using Digest32 = std::array<uint8_t, 32>;

Digest32 Sm3(std::string_view data);
// HMAC-SM3 of data (or of the concatenation of parts, without copying them
// together). The calling thread keeps the keyed states of its last
// kHmacKeyCacheEntries keys (see HmacSm3Key), so a key used again (the
// blind-index key, a domain MAC key) costs two SM3 compressions per short
// message instead of four plus OpenSSL's per-call HMAC setup.
Digest32 HmacSm3(std::string_view key, std::string_view data);
Digest32 HmacSm3(std::string_view key, std::initializer_list<std::string_view> parts);
Digest32 Sha256(std::string_view data);

inline constexpr size_t kHmacKeyCacheEntries = 4;

// HMAC-SM3 under one key, with the SM3 states after absorbing key^ipad and
// key^opad computed once; each Mac copies them and finishes (RFC 2104).
// Mac is thread-safe (the keyed states are only read; the work happens in a
// per-thread context). The keyed states are as secret as the key: OpenSSL
// wipes them when the object is destroyed.
class HmacSm3Key {
 public:
  explicit HmacSm3Key(std::string_view key);
  ~HmacSm3Key();
  HmacSm3Key(const HmacSm3Key&) = delete;
  HmacSm3Key& operator=(const HmacSm3Key&) = delete;

  Digest32 Mac(std::string_view data) const { return Mac({data}); }
  Digest32 Mac(std::initializer_list<std::string_view> parts) const;

 private:
  evp_md_ctx_st* inner_;  // SM3 after key ^ ipad
  evp_md_ctx_st* outer_;  // SM3 after key ^ opad
};

inline std::string_view DigestView(const Digest32& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace custvault::crypto
