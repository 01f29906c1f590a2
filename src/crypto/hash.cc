#include "crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

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

struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }  // cleanses the key
};

// One HMAC-SM3 context per thread, with the digest chosen once; each call
// only sets the key, which keeps the blind index cheap.
EVP_MAC_CTX* ThreadHmacSm3() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) Fatal("OpenSSL lacks HMAC");
  thread_local std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx;
  if (ctx == nullptr) {
    ctx.reset(EVP_MAC_CTX_new(mac));
    if (ctx == nullptr) Fatal("out of memory for an HMAC context");
    char digest_name[] = "SM3";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(ctx.get(), params) != 1) Fatal("cannot select SM3 for HMAC");
  }
  return ctx.get();
}

}  // namespace

Digest32 Sm3(std::string_view data) { return DigestWith(Sm3Md(), data); }

Digest32 Sha256(std::string_view data) { return DigestWith(Sha256Md(), data); }

Digest32 HmacSm3(std::string_view key, std::string_view data) {
  EVP_MAC_CTX* ctx = ThreadHmacSm3();
  // A null key pointer would make EVP_MAC_init reuse the previous call's
  // key; an empty key must be a non-null pointer with length 0.
  static const unsigned char kEmpty[1] = {0};
  const auto* key_bytes = key.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  Digest32 out{};
  size_t written = 0;
  if (EVP_MAC_init(ctx, key_bytes, key.size(), nullptr) != 1 ||
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx, out.data(), &written, out.size()) != 1 || written != out.size()) {
    Fatal("HMAC-SM3 failed");
  }
  return out;
}

}  // namespace custvault::crypto
