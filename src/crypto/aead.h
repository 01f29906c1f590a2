// Authenticated encryption: AES-256-GCM (NIST SP 800-38D) and SM4-GCM
// (RFC 8998, built from OpenSSL's CRYPTO_gcm128_* over an SM4-ECB block
// function because Debian's OpenSSL 3.0 has no SM4-GCM cipher).
//
// Only 96-bit nonces and 128-bit tags are accepted; anything else is refused
// before any work (kInvalidArgument). Thread safety: an AeadContext is NOT
// thread-safe; use one per thread (ThreadLocalAead). Each context fetches
// its EVP_CIPHER once and reuses its EVP_CIPHER_CTX across keys.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/secret.h"

namespace custvault::crypto {

enum class AeadAlgorithm : uint8_t { kAes256Gcm = 1, kSm4Gcm = 2 };

inline constexpr size_t kAeadNonceBytes = 12;
inline constexpr size_t kAeadTagBytes = 16;
constexpr size_t AeadKeyBytes(AeadAlgorithm a) { return a == AeadAlgorithm::kAes256Gcm ? 32 : 16; }
// Limits (kTooLarge above them). GCM itself allows about 64 GiB per message;
// ours are far below it and below INT_MAX, which EVP's length type needs.
inline constexpr size_t kAeadPlaintextBytesMax = size_t{64} << 20;  // 64 MiB
inline constexpr size_t kAeadAadBytesMax = size_t{1} << 20;         // 1 MiB
std::string_view AeadAlgorithmName(AeadAlgorithm a);                // "aes-256-gcm" | "sm4-gcm"

class AeadContext {
 public:
  static Result<std::unique_ptr<AeadContext>> Create(AeadAlgorithm algorithm);
  virtual ~AeadContext() = default;
  virtual AeadAlgorithm algorithm() const = 0;

  // Appends ciphertext || tag (plaintext.size() + 16 bytes) to *out. The
  // caller supplies the nonce (NextNonce in production; tests pass the
  // nonce of a published vector). kInvalidArgument, before any work, for a
  // key of the wrong size or a nonce that is not 12 bytes; *out is then
  // unchanged.
  virtual Status Seal(std::string_view key, std::string_view nonce, std::string_view aad,
                      std::string_view plaintext, std::string* out) = 0;
  // ciphertext_and_tag as Seal wrote it. kInvalidArgument for a wrong key
  // or nonce size; kDataLoss if authentication fails (no plaintext is
  // returned and any partial plaintext is wiped).
  virtual Result<SecretBytes> Open(std::string_view key, std::string_view nonce,
                                   std::string_view aad, std::string_view ciphertext_and_tag) = 0;
};

// The calling thread's context for the algorithm (created on first use).
AeadContext& ThreadLocalAead(AeadAlgorithm algorithm);

// 12 random bytes from a per-thread buffer refilled 4 KiB at a time
// (RAND_bytes per nonce costs about as much as encrypting a field).
Status NextNonce(uint8_t out[kAeadNonceBytes]);

}  // namespace custvault::crypto
