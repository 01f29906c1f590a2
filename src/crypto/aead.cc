#include "crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/modes.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace custvault::crypto {
namespace {

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Ciphers are fetched from the provider once per process: an implicit fetch
// (EVP_aes_256_gcm() passed to EVP_EncryptInit_ex) would look the algorithm
// up again on every init. The fetched objects are kept until exit on
// purpose; EVP_CIPHER objects are reference-counted and thread-safe to share.

const EVP_CIPHER* Aes256GcmCipher() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

const EVP_CIPHER* Sm4EcbCipher() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "SM4-ECB", nullptr);
  return cipher;
}

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// Checks every parameter before any work, so a refused call costs nothing
// and leaves no partial output.
Status CheckParameters(AeadAlgorithm algorithm, std::string_view key, std::string_view nonce,
                       std::string_view aad, size_t text_bytes) {
  if (key.size() != AeadKeyBytes(algorithm)) {
    return InvalidArgument(std::string(AeadAlgorithmName(algorithm)) + " needs a " +
                           std::to_string(AeadKeyBytes(algorithm)) + "-byte key, got " +
                           std::to_string(key.size()));
  }
  if (nonce.size() != kAeadNonceBytes) {
    return InvalidArgument(std::string(AeadAlgorithmName(algorithm)) +
                           " accepts only 12-byte nonces, got " + std::to_string(nonce.size()));
  }
  if (aad.size() > kAeadAadBytesMax) return TooLarge("associated data over the AEAD limit");
  if (text_bytes > kAeadPlaintextBytesMax) return TooLarge("message over the AEAD limit");
  return Status::Ok();
}

Status AuthenticationFailed() {
  return DataLoss("authentication failed: ciphertext, tag, nonce, key or associated data changed");
}

// ---------------------------------------------------------------------------
// AES-256-GCM through EVP. One EVP_CIPHER_CTX, given the cipher once; each
// call only sets key and IV (EVP_*Init_ex with a null cipher), which skips
// the provider lookup and context allocation.
class AesGcmContext final : public AeadContext {
 public:
  explicit AesGcmContext(CipherCtxPtr ctx) : ctx_(std::move(ctx)) {}

  static Result<std::unique_ptr<AeadContext>> Make() {
    const EVP_CIPHER* cipher = Aes256GcmCipher();
    if (cipher == nullptr) return Internal("OpenSSL has no AES-256-GCM");
    CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
    if (ctx == nullptr) return Internal("out of memory for a cipher context");
    if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr, 1) != 1) {
      return Internal("cannot initialise AES-256-GCM");
    }
    return std::unique_ptr<AeadContext>(new AesGcmContext(std::move(ctx)));
  }

  AeadAlgorithm algorithm() const override { return AeadAlgorithm::kAes256Gcm; }

  Status Seal(std::string_view key, std::string_view nonce, std::string_view aad,
              std::string_view plaintext, std::string* out) override {
    RETURN_IF_ERROR(CheckParameters(AeadAlgorithm::kAes256Gcm, key, nonce, aad, plaintext.size()));
    EVP_CIPHER_CTX* ctx = ctx_.get();
    if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, Bytes(key), Bytes(nonce)) != 1) {
      return Internal("AES-256-GCM key setup failed");
    }
    int written = 0;
    if (!aad.empty() &&
        EVP_EncryptUpdate(ctx, nullptr, &written, Bytes(aad), static_cast<int>(aad.size())) != 1) {
      return Internal("AES-256-GCM associated data failed");
    }
    const size_t start = out->size();
    out->resize(start + plaintext.size() + kAeadTagBytes);
    auto* dst = reinterpret_cast<unsigned char*>(out->data()) + start;
    bool ok = true;
    if (!plaintext.empty()) {
      ok = EVP_EncryptUpdate(ctx, dst, &written, Bytes(plaintext),
                             static_cast<int>(plaintext.size())) == 1 &&
           static_cast<size_t>(written) == plaintext.size();
    }
    unsigned char unused[16];
    ok = ok && EVP_EncryptFinal_ex(ctx, unused, &written) == 1 && written == 0;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAeadTagBytes),
                                   dst + plaintext.size()) == 1;
    if (!ok) {
      out->resize(start);
      return Internal("AES-256-GCM encryption failed");
    }
    return Status::Ok();
  }

  Result<SecretBytes> Open(std::string_view key, std::string_view nonce, std::string_view aad,
                           std::string_view ciphertext_and_tag) override {
    RETURN_IF_ERROR(
        CheckParameters(AeadAlgorithm::kAes256Gcm, key, nonce, aad, ciphertext_and_tag.size()));
    if (ciphertext_and_tag.size() < kAeadTagBytes) return AuthenticationFailed();
    const size_t text_bytes = ciphertext_and_tag.size() - kAeadTagBytes;
    EVP_CIPHER_CTX* ctx = ctx_.get();
    if (EVP_DecryptInit_ex(ctx, nullptr, nullptr, Bytes(key), Bytes(nonce)) != 1) {
      return Internal("AES-256-GCM key setup failed");
    }
    std::array<unsigned char, kAeadTagBytes> tag;
    std::memcpy(tag.data(), ciphertext_and_tag.data() + text_bytes, kAeadTagBytes);
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kAeadTagBytes),
                            tag.data()) != 1) {
      return Internal("AES-256-GCM tag setup failed");
    }
    int written = 0;
    if (!aad.empty() &&
        EVP_DecryptUpdate(ctx, nullptr, &written, Bytes(aad), static_cast<int>(aad.size())) != 1) {
      return Internal("AES-256-GCM associated data failed");
    }
    SecretBytes plaintext(text_bytes);
    if (text_bytes > 0 &&
        (EVP_DecryptUpdate(ctx, plaintext.data(), &written, Bytes(ciphertext_and_tag),
                           static_cast<int>(text_bytes)) != 1 ||
         static_cast<size_t>(written) != text_bytes)) {
      plaintext.Wipe();
      return Internal("AES-256-GCM decryption failed");
    }
    unsigned char unused[16];
    if (EVP_DecryptFinal_ex(ctx, unused, &written) != 1) {
      // The plaintext was produced before the tag was checked: never let
      // any of it out.
      plaintext.Wipe();
      return AuthenticationFailed();
    }
    return plaintext;
  }

 private:
  CipherCtxPtr ctx_;
};

// ---------------------------------------------------------------------------
// SM4-GCM (RFC 8998): GCM from OpenSSL's public CRYPTO_gcm128_* functions,
// with a block function that encrypts one block through an SM4-ECB
// EVP_CIPHER_CTX. OpenSSL 3.0 has SM4-ECB/CBC/CTR but no SM4-GCM cipher.
struct Sm4BlockState {
  EVP_CIPHER_CTX* ecb = nullptr;
  // block128_f returns nothing, so a failure is recorded here and checked
  // after the GCM call.
  bool failed = false;
};

void Sm4EncryptBlock(const unsigned char in[16], unsigned char out[16], const void* key) {
  auto* state = static_cast<Sm4BlockState*>(const_cast<void*>(key));
  int written = 0;
  // in == out happens (GCM computes H in place); EVP allows exact overlap.
  if (EVP_EncryptUpdate(state->ecb, out, &written, in, 16) != 1 || written != 16) {
    state->failed = true;
    std::memset(out, 0, 16);
  }
}

struct GcmDeleter {
  void operator()(GCM128_CONTEXT* gcm) const { CRYPTO_gcm128_release(gcm); }  // cleanses
};

class Sm4GcmContext final : public AeadContext {
 public:
  Sm4GcmContext(CipherCtxPtr ecb, std::unique_ptr<Sm4BlockState> block)
      : ecb_(std::move(ecb)), block_(std::move(block)) {}

  static Result<std::unique_ptr<AeadContext>> Make() {
    const EVP_CIPHER* cipher = Sm4EcbCipher();
    if (cipher == nullptr) return Internal("OpenSSL has no SM4-ECB");
    CipherCtxPtr ecb(EVP_CIPHER_CTX_new());
    if (ecb == nullptr) return Internal("out of memory for a cipher context");
    // Keyed with zeros so that CRYPTO_gcm128_new below, which encrypts one
    // block to derive H, has a usable block function; real keys come per call.
    const unsigned char zero_key[16] = {};
    if (EVP_EncryptInit_ex(ecb.get(), cipher, nullptr, zero_key, nullptr) != 1 ||
        EVP_CIPHER_CTX_set_padding(ecb.get(), 0) != 1) {
      return Internal("cannot initialise SM4-ECB");
    }
    auto block = std::make_unique<Sm4BlockState>();
    block->ecb = ecb.get();
    auto context = std::make_unique<Sm4GcmContext>(std::move(ecb), std::move(block));
    context->gcm_.reset(CRYPTO_gcm128_new(context->block_.get(), Sm4EncryptBlock));
    if (context->gcm_ == nullptr || context->block_->failed) {
      return Internal("cannot initialise SM4-GCM");
    }
    return std::unique_ptr<AeadContext>(std::move(context));
  }

  AeadAlgorithm algorithm() const override { return AeadAlgorithm::kSm4Gcm; }

  Status Seal(std::string_view key, std::string_view nonce, std::string_view aad,
              std::string_view plaintext, std::string* out) override {
    RETURN_IF_ERROR(CheckParameters(AeadAlgorithm::kSm4Gcm, key, nonce, aad, plaintext.size()));
    RETURN_IF_ERROR(Start(key, nonce, aad));
    const size_t start = out->size();
    out->resize(start + plaintext.size() + kAeadTagBytes);
    auto* dst = reinterpret_cast<unsigned char*>(out->data()) + start;
    bool ok = CRYPTO_gcm128_encrypt(gcm_.get(), Bytes(plaintext), dst, plaintext.size()) == 0;
    if (ok) CRYPTO_gcm128_tag(gcm_.get(), dst + plaintext.size(), kAeadTagBytes);
    if (!ok || block_->failed) {
      out->resize(start);
      return Internal("SM4-GCM encryption failed");
    }
    return Status::Ok();
  }

  Result<SecretBytes> Open(std::string_view key, std::string_view nonce, std::string_view aad,
                           std::string_view ciphertext_and_tag) override {
    RETURN_IF_ERROR(
        CheckParameters(AeadAlgorithm::kSm4Gcm, key, nonce, aad, ciphertext_and_tag.size()));
    if (ciphertext_and_tag.size() < kAeadTagBytes) return AuthenticationFailed();
    const size_t text_bytes = ciphertext_and_tag.size() - kAeadTagBytes;
    RETURN_IF_ERROR(Start(key, nonce, aad));
    SecretBytes plaintext(text_bytes);
    if (text_bytes > 0 && CRYPTO_gcm128_decrypt(gcm_.get(), Bytes(ciphertext_and_tag),
                                                plaintext.data(), text_bytes) != 0) {
      plaintext.Wipe();
      return Internal("SM4-GCM decryption failed");
    }
    // CRYPTO_gcm128_finish compares with CRYPTO_memcmp (constant time).
    const bool tag_ok = CRYPTO_gcm128_finish(gcm_.get(), Bytes(ciphertext_and_tag) + text_bytes,
                                             kAeadTagBytes) == 0;
    if (block_->failed) {
      plaintext.Wipe();
      return Internal("SM4-GCM decryption failed");
    }
    if (!tag_ok) {
      plaintext.Wipe();
      return AuthenticationFailed();
    }
    return plaintext;
  }

 private:
  // Keys SM4, derives H for the new key, sets the IV and absorbs the AAD.
  Status Start(std::string_view key, std::string_view nonce, std::string_view aad) {
    block_->failed = false;
    if (EVP_EncryptInit_ex(ecb_.get(), nullptr, nullptr, Bytes(key), nullptr) != 1) {
      return Internal("SM4 key setup failed");
    }
    CRYPTO_gcm128_init(gcm_.get(), block_.get(), Sm4EncryptBlock);
    CRYPTO_gcm128_setiv(gcm_.get(), Bytes(nonce), nonce.size());
    if (!aad.empty() && CRYPTO_gcm128_aad(gcm_.get(), Bytes(aad), aad.size()) != 0) {
      return Internal("SM4-GCM associated data failed");
    }
    if (block_->failed) return Internal("SM4 block encryption failed");
    return Status::Ok();
  }

  // Declared in this order so that gcm_ (which points at block_) is
  // released first.
  CipherCtxPtr ecb_;
  std::unique_ptr<Sm4BlockState> block_;
  std::unique_ptr<GCM128_CONTEXT, GcmDeleter> gcm_;
};

// ---------------------------------------------------------------------------
// Nonces. A fork would hand the child a copy of the parent's unused nonce
// buffer, and both would then use the same nonces: the child refills.
std::atomic<uint64_t> fork_generation{0};
void OnForkInChild() { fork_generation.fetch_add(1, std::memory_order_relaxed); }

inline constexpr size_t kNonceBufferBytes = 4096;

struct NonceBuffer {
  std::array<uint8_t, kNonceBufferBytes> bytes;
  size_t used = kNonceBufferBytes;  // empty until first use
  uint64_t generation = 0;
  ~NonceBuffer() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

}  // namespace

std::string_view AeadAlgorithmName(AeadAlgorithm a) {
  switch (a) {
    case AeadAlgorithm::kAes256Gcm:
      return "aes-256-gcm";
    case AeadAlgorithm::kSm4Gcm:
      return "sm4-gcm";
  }
  return "unknown";
}

Result<std::unique_ptr<AeadContext>> AeadContext::Create(AeadAlgorithm algorithm) {
  switch (algorithm) {
    case AeadAlgorithm::kAes256Gcm:
      return AesGcmContext::Make();
    case AeadAlgorithm::kSm4Gcm:
      return Sm4GcmContext::Make();
  }
  return InvalidArgument("unknown AEAD algorithm");
}

AeadContext& ThreadLocalAead(AeadAlgorithm algorithm) {
  thread_local std::unique_ptr<AeadContext> contexts[2];
  const size_t index = algorithm == AeadAlgorithm::kAes256Gcm ? 0 : 1;
  std::unique_ptr<AeadContext>& slot = contexts[index];
  if (slot == nullptr) {
    auto created = AeadContext::Create(algorithm);
    if (!created.ok()) {
      // Release assert: without a cipher context no field can be protected,
      // and this fails only when OpenSSL itself is broken or out of memory.
      std::fprintf(stderr, "custvault: fatal: %s\n", created.status().ToString().c_str());
      std::abort();
    }
    slot = std::move(created).value();
  }
  return *slot;
}

Status NextNonce(uint8_t out[kAeadNonceBytes]) {
  static std::once_flag register_fork_handler;
  std::call_once(register_fork_handler, [] { pthread_atfork(nullptr, nullptr, &OnForkInChild); });
  thread_local NonceBuffer buffer;
  const uint64_t generation = fork_generation.load(std::memory_order_relaxed);
  if (buffer.used + kAeadNonceBytes > buffer.bytes.size() || buffer.generation != generation) {
    if (RAND_bytes(buffer.bytes.data(), static_cast<int>(buffer.bytes.size())) != 1) {
      return Internal("system random source failed");
    }
    buffer.used = 0;
    buffer.generation = generation;
  }
  std::memcpy(out, buffer.bytes.data() + buffer.used, kAeadNonceBytes);
  // Used nonce bytes are cleared so that a later memory disclosure cannot
  // tell which nonces were handed out (and a bug cannot hand one out twice).
  OPENSSL_cleanse(buffer.bytes.data() + buffer.used, kAeadNonceBytes);
  buffer.used += kAeadNonceBytes;
  return Status::Ok();
}

}  // namespace custvault::crypto
