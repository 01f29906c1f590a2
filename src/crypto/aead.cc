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

// The key a context was last set up with. When the next call brings the
// same key (consecutive fields of one customer share it) the context keeps
// its key schedule (and GCM's hash key H) and only takes the new nonce.
// Compared in constant time; wiped when forgotten and on destruction.
class LastKey {
 public:
  ~LastKey() { Forget(); }
  bool Is(std::string_view key) const {
    return size_ != 0 && key.size() == size_ &&
           CRYPTO_memcmp(bytes_.data(), key.data(), size_) == 0;
  }
  // `key` has passed CheckParameters, so it fits.
  void Remember(std::string_view key) {
    std::memcpy(bytes_.data(), key.data(), key.size());
    size_ = key.size();
  }
  void Forget() {
    OPENSSL_cleanse(bytes_.data(), bytes_.size());
    size_ = 0;
  }

 private:
  std::array<uint8_t, 32> bytes_{};
  size_t size_ = 0;  // 0: no key remembered
};

Status AuthenticationFailed() {
  return DataLoss("authentication failed: ciphertext, tag, nonce, key or associated data changed");
}

// Each context keeps kKeySlots keyed states and picks the one already set
// up with the call's key, else re-keys the least recently used one: the
// key-wrapping key and the current customer's key alternate (unwrap, then
// six fields; wrap a new key, then six fields) and both stay keyed.
inline constexpr size_t kKeySlots = 2;

template <typename Slot>
Slot& PickSlot(std::array<Slot, kKeySlots>& slots, std::string_view key, uint64_t* clock,
               bool* same_key) {
  Slot* chosen = nullptr;
  for (Slot& slot : slots) {
    if (slot.last_key.Is(key)) chosen = &slot;
  }
  *same_key = chosen != nullptr;
  if (chosen == nullptr) {
    chosen = &slots[0];
    for (Slot& slot : slots) {
      if (slot.last_used < chosen->last_used) chosen = &slot;
    }
  }
  chosen->last_used = ++*clock;
  return *chosen;
}

// ---------------------------------------------------------------------------
// AES-256-GCM through EVP. Each slot's EVP_CIPHER_CTX is given the cipher
// once; a call sets key and IV, or only the IV when the slot already holds
// the key (EVP_CipherInit_ex with a null cipher and key keeps the key
// schedule and GHASH table), which skips the provider lookup, the context
// allocation and the key setup.
class AesGcmContext final : public AeadContext {
 public:
  struct Slot {
    CipherCtxPtr ctx;
    LastKey last_key;
    uint64_t last_used = 0;
  };

  static Result<std::unique_ptr<AeadContext>> Make() {
    const EVP_CIPHER* cipher = Aes256GcmCipher();
    if (cipher == nullptr) return Internal("OpenSSL has no AES-256-GCM");
    std::unique_ptr<AesGcmContext> context(new AesGcmContext());
    for (Slot& slot : context->slots_) {
      slot.ctx.reset(EVP_CIPHER_CTX_new());
      if (slot.ctx == nullptr) return Internal("out of memory for a cipher context");
      if (EVP_CipherInit_ex(slot.ctx.get(), cipher, nullptr, nullptr, nullptr, 1) != 1) {
        return Internal("cannot initialise AES-256-GCM");
      }
    }
    return std::unique_ptr<AeadContext>(std::move(context));
  }

  AeadAlgorithm algorithm() const override { return AeadAlgorithm::kAes256Gcm; }

  Status Seal(std::string_view key, std::string_view nonce, std::string_view aad,
              std::string_view plaintext, std::string* out) override {
    RETURN_IF_ERROR(CheckParameters(AeadAlgorithm::kAes256Gcm, key, nonce, aad, plaintext.size()));
    ASSIGN_OR_RETURN(EVP_CIPHER_CTX* const ctx, Start(key, nonce, /*encrypt=*/1));
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
    ASSIGN_OR_RETURN(EVP_CIPHER_CTX* const ctx, Start(key, nonce, /*encrypt=*/0));
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
  AesGcmContext() = default;

  // The slot's context, set up for `key` (re-keyed only if it held another
  // key) with the new nonce.
  Result<EVP_CIPHER_CTX*> Start(std::string_view key, std::string_view nonce, int encrypt) {
    bool same_key = false;
    Slot& slot = PickSlot(slots_, key, &clock_, &same_key);
    if (EVP_CipherInit_ex(slot.ctx.get(), nullptr, nullptr, same_key ? nullptr : Bytes(key),
                          Bytes(nonce), encrypt) != 1) {
      slot.last_key.Forget();
      return Internal("AES-256-GCM key setup failed");
    }
    if (!same_key) slot.last_key.Remember(key);
    return slot.ctx.get();
  }

  std::array<Slot, kKeySlots> slots_;
  uint64_t clock_ = 0;
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
  // Declared in this order so that gcm (which points at block) is released
  // first.
  struct Slot {
    CipherCtxPtr ecb;
    std::unique_ptr<Sm4BlockState> block;
    std::unique_ptr<GCM128_CONTEXT, GcmDeleter> gcm;
    LastKey last_key;
    uint64_t last_used = 0;
  };

  static Result<std::unique_ptr<AeadContext>> Make() {
    const EVP_CIPHER* cipher = Sm4EcbCipher();
    if (cipher == nullptr) return Internal("OpenSSL has no SM4-ECB");
    std::unique_ptr<Sm4GcmContext> context(new Sm4GcmContext());
    for (Slot& slot : context->slots_) {
      slot.ecb.reset(EVP_CIPHER_CTX_new());
      if (slot.ecb == nullptr) return Internal("out of memory for a cipher context");
      // Keyed with zeros so that CRYPTO_gcm128_new below, which encrypts one
      // block to derive H, has a usable block function; real keys come per
      // call (and the zero key is never remembered as a slot's key).
      const unsigned char zero_key[16] = {};
      if (EVP_EncryptInit_ex(slot.ecb.get(), cipher, nullptr, zero_key, nullptr) != 1 ||
          EVP_CIPHER_CTX_set_padding(slot.ecb.get(), 0) != 1) {
        return Internal("cannot initialise SM4-ECB");
      }
      slot.block = std::make_unique<Sm4BlockState>();
      slot.block->ecb = slot.ecb.get();
      slot.gcm.reset(CRYPTO_gcm128_new(slot.block.get(), Sm4EncryptBlock));
      if (slot.gcm == nullptr || slot.block->failed) return Internal("cannot initialise SM4-GCM");
    }
    return std::unique_ptr<AeadContext>(std::move(context));
  }

  AeadAlgorithm algorithm() const override { return AeadAlgorithm::kSm4Gcm; }

  Status Seal(std::string_view key, std::string_view nonce, std::string_view aad,
              std::string_view plaintext, std::string* out) override {
    RETURN_IF_ERROR(CheckParameters(AeadAlgorithm::kSm4Gcm, key, nonce, aad, plaintext.size()));
    ASSIGN_OR_RETURN(Slot* const slot, Start(key, nonce, aad));
    const size_t start = out->size();
    out->resize(start + plaintext.size() + kAeadTagBytes);
    auto* dst = reinterpret_cast<unsigned char*>(out->data()) + start;
    bool ok = CRYPTO_gcm128_encrypt(slot->gcm.get(), Bytes(plaintext), dst, plaintext.size()) == 0;
    if (ok) CRYPTO_gcm128_tag(slot->gcm.get(), dst + plaintext.size(), kAeadTagBytes);
    if (!ok || slot->block->failed) {
      out->resize(start);
      slot->last_key.Forget();  // the block cipher's state is not trusted any more
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
    ASSIGN_OR_RETURN(Slot* const slot, Start(key, nonce, aad));
    SecretBytes plaintext(text_bytes);
    if (text_bytes > 0 && CRYPTO_gcm128_decrypt(slot->gcm.get(), Bytes(ciphertext_and_tag),
                                                plaintext.data(), text_bytes) != 0) {
      plaintext.Wipe();
      return Internal("SM4-GCM decryption failed");
    }
    // CRYPTO_gcm128_finish compares with CRYPTO_memcmp (constant time).
    const bool tag_ok = CRYPTO_gcm128_finish(
                            slot->gcm.get(), Bytes(ciphertext_and_tag) + text_bytes,
                            kAeadTagBytes) == 0;
    if (slot->block->failed) {
      plaintext.Wipe();
      slot->last_key.Forget();
      return Internal("SM4-GCM decryption failed");
    }
    if (!tag_ok) {
      plaintext.Wipe();
      return AuthenticationFailed();
    }
    return plaintext;
  }

 private:
  Sm4GcmContext() = default;

  // Picks the slot; keys SM4 and derives H unless the slot holds the key
  // already; then sets the IV (which resets the rest of the GCM state) and
  // absorbs the AAD.
  Result<Slot*> Start(std::string_view key, std::string_view nonce, std::string_view aad) {
    bool same_key = false;
    Slot& slot = PickSlot(slots_, key, &clock_, &same_key);
    slot.block->failed = false;
    if (!same_key) {
      slot.last_key.Forget();
      if (EVP_EncryptInit_ex(slot.ecb.get(), nullptr, nullptr, Bytes(key), nullptr) != 1) {
        return Internal("SM4 key setup failed");
      }
      CRYPTO_gcm128_init(slot.gcm.get(), slot.block.get(), Sm4EncryptBlock);
      if (slot.block->failed) return Internal("SM4 block encryption failed");
      slot.last_key.Remember(key);
    }
    CRYPTO_gcm128_setiv(slot.gcm.get(), Bytes(nonce), nonce.size());
    if (!aad.empty() && CRYPTO_gcm128_aad(slot.gcm.get(), Bytes(aad), aad.size()) != 0) {
      return Internal("SM4-GCM associated data failed");
    }
    if (slot.block->failed) {
      slot.last_key.Forget();
      return Internal("SM4 block encryption failed");
    }
    return &slot;
  }

  std::array<Slot, kKeySlots> slots_;
  uint64_t clock_ = 0;
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
