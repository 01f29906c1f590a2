#include "crypto/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "crypto/secret.h"

namespace custvault::crypto {
namespace {

// Release assert: these fail only if OpenSSL lacks SM3/SHA-256 or is out of
// memory; no caller could do anything useful with such an error.
[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "custvault: fatal: %s\n", what);
  std::abort();
}

// Fetched once per process (an implicit fetch per call is a provider lookup).
const EVP_MD* FetchedDigest(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) Fatal("OpenSSL lacks a digest custvault needs");
  return md;
}

const EVP_MD* Sm3Md() {
  static const EVP_MD* const md = FetchedDigest("SM3");
  return md;
}

const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = FetchedDigest("SHA2-256");
  return md;
}

Digest32 DigestWith(const EVP_MD* md, std::string_view data) {
  Digest32 out{};
  unsigned int written = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &written, md, nullptr) != 1 ||
      written != out.size()) {
    Fatal("digest failed");
  }
  return out;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }  // wipes the state
};

EVP_MD_CTX* NewSm3Context() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, Sm3Md(), nullptr) != 1) Fatal("cannot start SM3");
  return ctx;
}

// The calling thread's scratch context: HmacSm3Key::Mac copies a keyed
// state into it and finishes there, leaving the shared states untouched.
EVP_MD_CTX* ThreadWorkContext() {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(NewSm3Context());
  return ctx.get();
}

inline constexpr uint8_t kInnerPad = 0x36;
inline constexpr uint8_t kOuterPad = 0x5c;

using BlockKey = std::array<uint8_t, kSm3BlockBytes>;

// RFC 2104: a key longer than the block is replaced by its hash; the key
// is then zero-padded to the block.
void MakeBlockKey(std::string_view key, BlockKey* block_key) {
  block_key->fill(0);
  if (key.size() > kSm3BlockBytes) {
    Digest32 hashed = Sm3(key);
    std::memcpy(block_key->data(), hashed.data(), hashed.size());
    OPENSSL_cleanse(hashed.data(), hashed.size());
  } else if (!key.empty()) {
    std::memcpy(block_key->data(), key.data(), key.size());
  }
}

EVP_MD_CTX* KeyedState(const BlockKey& block_key, uint8_t pad) {
  BlockKey padded;
  for (size_t i = 0; i < padded.size(); ++i) padded[i] = block_key[i] ^ pad;
  EVP_MD_CTX* ctx = NewSm3Context();
  if (EVP_DigestUpdate(ctx, padded.data(), padded.size()) != 1) Fatal("SM3 failed");
  OPENSSL_cleanse(padded.data(), padded.size());
  return ctx;
}

// The calling thread's keyed HMAC states for its last few keys, replaced
// round-robin, found by the key bytes as given (two keys that differ only
// by trailing zeros are the same HMAC key and may hold two entries, with
// equal results). Entries, and the keys in them, are wiped when replaced
// and when the thread ends.
struct HmacKeyCache {
  struct Entry {
    SecretBytes key;
    std::unique_ptr<HmacSm3Key> keyed;
  };
  std::array<Entry, kHmacKeyCacheEntries> entries;
  size_t next_victim = 0;

  const HmacSm3Key& For(std::string_view key) {
    for (const Entry& entry : entries) {
      if (entry.keyed != nullptr && entry.key.size() == key.size() &&
          CRYPTO_memcmp(entry.key.data(), key.data(), key.size()) == 0) {
        return *entry.keyed;
      }
    }
    Entry& slot = entries[next_victim];
    next_victim = (next_victim + 1) % entries.size();
    slot.keyed = std::make_unique<HmacSm3Key>(key);
    slot.key = SecretBytes(key);
    return *slot.keyed;
  }
};

}  // namespace

Digest32 Sm3(std::string_view data) { return DigestWith(Sm3Md(), data); }

Digest32 Sha256(std::string_view data) { return DigestWith(Sha256Md(), data); }

Digest32 HmacSm3(std::string_view key, std::string_view data) { return HmacSm3(key, {data}); }

Digest32 HmacSm3(std::string_view key, std::initializer_list<std::string_view> parts) {
  thread_local HmacKeyCache cache;
  return cache.For(key).Mac(parts);
}

HmacSm3Key::HmacSm3Key(std::string_view key) {
  BlockKey block_key;
  MakeBlockKey(key, &block_key);
  inner_ = KeyedState(block_key, kInnerPad);
  outer_ = KeyedState(block_key, kOuterPad);
  OPENSSL_cleanse(block_key.data(), block_key.size());
}

HmacSm3Key::~HmacSm3Key() {
  EVP_MD_CTX_free(inner_);
  EVP_MD_CTX_free(outer_);
}

Digest32 HmacSm3Key::Mac(std::initializer_list<std::string_view> parts) const {
  EVP_MD_CTX* work = ThreadWorkContext();
  Digest32 inner_hash{};
  Digest32 out{};
  unsigned int written = 0;
  if (EVP_MD_CTX_copy_ex(work, inner_) != 1) Fatal("HMAC-SM3 failed");
  for (std::string_view part : parts) {
    if (!part.empty() && EVP_DigestUpdate(work, part.data(), part.size()) != 1) {
      Fatal("HMAC-SM3 failed");
    }
  }
  if (EVP_DigestFinal_ex(work, inner_hash.data(), &written) != 1 || written != inner_hash.size() ||
      EVP_MD_CTX_copy_ex(work, outer_) != 1 ||
      EVP_DigestUpdate(work, inner_hash.data(), inner_hash.size()) != 1 ||
      EVP_DigestFinal_ex(work, out.data(), &written) != 1 || written != out.size()) {
    Fatal("HMAC-SM3 failed");
  }
  OPENSSL_cleanse(inner_hash.data(), inner_hash.size());
  return out;
}

}  // namespace custvault::crypto
