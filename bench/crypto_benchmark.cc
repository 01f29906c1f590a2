// Field encryption costs (R-CRY-1..3): EncryptField / DecryptField of a
// 32-byte value with AES-256-GCM and SM4-GCM, BlindIndex, UnwrapCustomerKey,
// and a naive EncryptField (cipher fetched, context allocated and RAND_bytes
// called on every value) to show what the cached contexts and the nonce
// buffer save.
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/modes.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/env.h"
#include "crypto/envelope.h"
#include "crypto/hash.h"
#include "crypto/keyring.h"

namespace custvault::crypto {
namespace {

const std::string kValue = "13800138000 / 110101199003077777";  // 32 bytes, synthetic

struct Fixture {
  std::string dir;
  std::unique_ptr<Keyring> keyring;
  SecretBytes customer_key;
  std::string wrapped_customer_key;

  Fixture() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cv_bench_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) Die("mkdtemp failed");
    dir = pattern;
    auto opened = Keyring::Open(Env::Default(), dir + "/master.key", CryptoProfile::kDefault, true);
    if (!opened.ok()) Die(opened.status().ToString());
    keyring = std::move(opened).value();
    if (!keyring->CreateDomainKey(kCustomerKekPurpose, 1).ok() ||
        !keyring->CreateDomainKey(kBlindIndexPurpose, 1).ok()) {
      Die("cannot create domain keys");
    }
    auto customer = keyring->CreateCustomerKey("C-000001");
    if (!customer.ok()) Die(customer.status().ToString());
    customer_key = std::move(customer->key);
    wrapped_customer_key = customer->wrapped;
  }
  ~Fixture() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  [[noreturn]] static void Die(const std::string& why) {
    std::fprintf(stderr, "crypto_benchmark: %s\n", why.c_str());
    std::exit(1);
  }
};

Fixture& Shared() {
  static Fixture fixture;
  return fixture;
}

AeadAlgorithm AlgorithmArg(const benchmark::State& state) {
  return state.range(0) == 1 ? AeadAlgorithm::kAes256Gcm : AeadAlgorithm::kSm4Gcm;
}

void BM_EncryptField(benchmark::State& state) {
  Fixture& f = Shared();
  const AeadAlgorithm algorithm = AlgorithmArg(state);
  state.SetLabel(std::string(AeadAlgorithmName(algorithm)));
  for (auto _ : state) {
    auto sealed =
        f.keyring->EncryptField(algorithm, f.customer_key, 1, "C-000001", "mobile", kValue);
    if (!sealed.ok()) state.SkipWithError("EncryptField failed");
    benchmark::DoNotOptimize(sealed);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kValue.size()));
}
BENCHMARK(BM_EncryptField)->Arg(1)->Arg(2);

void BM_DecryptField(benchmark::State& state) {
  Fixture& f = Shared();
  const AeadAlgorithm algorithm = AlgorithmArg(state);
  state.SetLabel(std::string(AeadAlgorithmName(algorithm)));
  auto sealed = f.keyring->EncryptField(algorithm, f.customer_key, 1, "C-000001", "mobile", kValue);
  if (!sealed.ok()) Fixture::Die("EncryptField failed");
  for (auto _ : state) {
    auto opened = f.keyring->DecryptField(f.customer_key, "C-000001", "mobile", *sealed);
    if (!opened.ok()) state.SkipWithError("DecryptField failed");
    benchmark::DoNotOptimize(opened);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kValue.size()));
}
BENCHMARK(BM_DecryptField)->Arg(1)->Arg(2);

void BM_BlindIndex(benchmark::State& state) {
  Fixture& f = Shared();
  for (auto _ : state) {
    auto index = f.keyring->BlindIndex("mobile", kValue);
    if (!index.ok()) state.SkipWithError("BlindIndex failed");
    benchmark::DoNotOptimize(index);
  }
}
BENCHMARK(BM_BlindIndex);

// ---- HMAC-SM3 three ways, same 32-byte key and 39-byte message (a blind
// index input): ours (keyed SM3 states cached per thread, copied per call
// with EVP_MD_CTX_copy_ex), the former way (EVP_MAC_init re-keys on every
// call), and the alternative considered (EVP_MAC_CTX_dup of a keyed
// template per call).
const std::string kMacKey(32, 'k');
const std::string kMacInput = std::string("mobile") + '\0' + kValue;

void BM_HmacSm3(benchmark::State& state) {
  for (auto _ : state) {
    Digest32 mac = HmacSm3(kMacKey, kMacInput);
    benchmark::DoNotOptimize(mac);
  }
}
BENCHMARK(BM_HmacSm3);

EVP_MAC_CTX* NewHmacSm3Context() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  char digest[] = "SM3";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (ctx == nullptr || EVP_MAC_CTX_set_params(ctx, params) != 1) Fixture::Die("no HMAC-SM3");
  return ctx;
}

const unsigned char* U8(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void BM_HmacSm3EvpMacInitPerCall(benchmark::State& state) {
  EVP_MAC_CTX* ctx = NewHmacSm3Context();
  Digest32 mac{};
  size_t written = 0;
  for (auto _ : state) {
    if (EVP_MAC_init(ctx, U8(kMacKey), kMacKey.size(), nullptr) != 1 ||
        EVP_MAC_update(ctx, U8(kMacInput), kMacInput.size()) != 1 ||
        EVP_MAC_final(ctx, mac.data(), &written, mac.size()) != 1) {
      state.SkipWithError("HMAC failed");
    }
    benchmark::DoNotOptimize(mac);
  }
  EVP_MAC_CTX_free(ctx);
}
BENCHMARK(BM_HmacSm3EvpMacInitPerCall);

void BM_HmacSm3EvpMacDupPerCall(benchmark::State& state) {
  EVP_MAC_CTX* keyed = NewHmacSm3Context();
  if (EVP_MAC_init(keyed, U8(kMacKey), kMacKey.size(), nullptr) != 1) Fixture::Die("HMAC init");
  Digest32 mac{};
  size_t written = 0;
  for (auto _ : state) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed);
    if (ctx == nullptr || EVP_MAC_update(ctx, U8(kMacInput), kMacInput.size()) != 1 ||
        EVP_MAC_final(ctx, mac.data(), &written, mac.size()) != 1) {
      state.SkipWithError("HMAC failed");
    }
    EVP_MAC_CTX_free(ctx);
    benchmark::DoNotOptimize(mac);
  }
  EVP_MAC_CTX_free(keyed);
}
BENCHMARK(BM_HmacSm3EvpMacDupPerCall);

void BM_UnwrapCustomerKey(benchmark::State& state) {
  Fixture& f = Shared();
  for (auto _ : state) {
    auto key = f.keyring->UnwrapCustomerKey("C-000001", 1, f.wrapped_customer_key);
    if (!key.ok()) state.SkipWithError("UnwrapCustomerKey failed");
    benchmark::DoNotOptimize(key);
  }
}
BENCHMARK(BM_UnwrapCustomerKey);

// ---- one customer's record, as the service handles it: a new data key
// wrapped by the customer-kek, then six fields sealed with it (create); or
// the key unwrapped and six fields opened (get). The AEAD context sees the
// kek and the customer's key alternate, unlike BM_EncryptField's one key.
const char* const kSixFields[] = {"name", "mobile", "id_number", "bank_card", "email", "address"};

void BM_SealCustomerRecord(benchmark::State& state) {
  Fixture& f = Shared();
  const AeadAlgorithm algorithm = AlgorithmArg(state);
  state.SetLabel(std::string(AeadAlgorithmName(algorithm)) + ", 1 key wrap + 6 fields");
  for (auto _ : state) {
    auto key = f.keyring->CreateCustomerKey("C-000001");
    if (!key.ok()) state.SkipWithError("CreateCustomerKey failed");
    for (const char* field : kSixFields) {
      auto sealed = f.keyring->EncryptField(algorithm, key->key, 1, "C-000001", field, kValue);
      if (!sealed.ok()) state.SkipWithError("EncryptField failed");
      benchmark::DoNotOptimize(sealed);
    }
  }
}
BENCHMARK(BM_SealCustomerRecord)->Arg(1)->Arg(2);

void BM_OpenCustomerRecord(benchmark::State& state) {
  Fixture& f = Shared();
  const AeadAlgorithm algorithm = AlgorithmArg(state);
  state.SetLabel(std::string(AeadAlgorithmName(algorithm)) + ", 1 key unwrap + 6 fields");
  std::vector<std::string> sealed;
  for (const char* field : kSixFields) {
    auto one = f.keyring->EncryptField(algorithm, f.customer_key, 1, "C-000001", field, kValue);
    if (!one.ok()) Fixture::Die("EncryptField failed");
    sealed.push_back(std::move(one).value());
  }
  for (auto _ : state) {
    auto key = f.keyring->UnwrapCustomerKey("C-000001", 1, f.wrapped_customer_key);
    if (!key.ok()) state.SkipWithError("UnwrapCustomerKey failed");
    for (size_t i = 0; i < sealed.size(); ++i) {
      auto opened = f.keyring->DecryptField(*key, "C-000001", kSixFields[i], sealed[i]);
      if (!opened.ok()) state.SkipWithError("DecryptField failed");
      benchmark::DoNotOptimize(opened);
    }
  }
}
BENCHMARK(BM_OpenCustomerRecord)->Arg(1)->Arg(2);

// ---- the naive way, for comparison: the same envelope and associated
// data, but every call fetches the cipher, allocates its contexts and asks
// RAND_bytes for the nonce.
struct Sm4Block {
  EVP_CIPHER_CTX* ecb;
};
void NaiveSm4Block(const unsigned char in[16], unsigned char out[16], const void* key) {
  int written = 0;
  EVP_EncryptUpdate(static_cast<const Sm4Block*>(key)->ecb, out, &written, in, 16);
}

bool NaiveEncryptField(AeadAlgorithm algorithm, std::string_view key, std::string_view plaintext,
                       std::string* envelope) {
  *envelope = EnvelopeHeader(algorithm, 1);
  unsigned char nonce[kAeadNonceBytes];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return false;
  envelope->append(reinterpret_cast<const char*>(nonce), sizeof nonce);
  const std::string aad = FieldAssociatedData(envelope->substr(0, 6), "C-000001", "mobile");
  const size_t start = envelope->size();
  envelope->resize(start + plaintext.size() + kAeadTagBytes);
  auto* out = reinterpret_cast<unsigned char*>(envelope->data()) + start;
  const auto* in = reinterpret_cast<const unsigned char*>(plaintext.data());
  const auto* key_bytes = reinterpret_cast<const unsigned char*>(key.data());
  const auto* aad_bytes = reinterpret_cast<const unsigned char*>(aad.data());
  bool ok = false;
  if (algorithm == AeadAlgorithm::kAes256Gcm) {
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int written = 0;
    unsigned char unused[16];
    ok = EVP_EncryptInit_ex(ctx, cipher, nullptr, key_bytes, nonce) == 1 &&
         EVP_EncryptUpdate(ctx, nullptr, &written, aad_bytes, static_cast<int>(aad.size())) == 1 &&
         EVP_EncryptUpdate(ctx, out, &written, in, static_cast<int>(plaintext.size())) == 1 &&
         EVP_EncryptFinal_ex(ctx, unused, &written) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + plaintext.size()) == 1;
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
  } else {
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "SM4-ECB", nullptr);
    Sm4Block block{EVP_CIPHER_CTX_new()};
    ok = EVP_EncryptInit_ex(block.ecb, cipher, nullptr, key_bytes, nullptr) == 1 &&
         EVP_CIPHER_CTX_set_padding(block.ecb, 0) == 1;
    GCM128_CONTEXT* gcm = ok ? CRYPTO_gcm128_new(&block, NaiveSm4Block) : nullptr;
    ok = gcm != nullptr;
    if (ok) {
      CRYPTO_gcm128_setiv(gcm, nonce, sizeof nonce);
      ok = CRYPTO_gcm128_aad(gcm, aad_bytes, aad.size()) == 0 &&
           CRYPTO_gcm128_encrypt(gcm, in, out, plaintext.size()) == 0;
      CRYPTO_gcm128_tag(gcm, out + plaintext.size(), 16);
      CRYPTO_gcm128_release(gcm);
    }
    EVP_CIPHER_CTX_free(block.ecb);
    EVP_CIPHER_free(cipher);
  }
  return ok;
}

void BM_NaiveEncryptField(benchmark::State& state) {
  Fixture& f = Shared();
  const AeadAlgorithm algorithm = AlgorithmArg(state);
  state.SetLabel(std::string(AeadAlgorithmName(algorithm)));
  const std::string_view key = algorithm == AeadAlgorithm::kAes256Gcm
                                   ? f.customer_key.view().substr(0, 32)
                                   : f.customer_key.view().substr(32, 16);
  std::string envelope;
  for (auto _ : state) {
    if (!NaiveEncryptField(algorithm, key, kValue, &envelope)) state.SkipWithError("naive failed");
    benchmark::DoNotOptimize(envelope);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kValue.size()));
}
BENCHMARK(BM_NaiveEncryptField)->Arg(1)->Arg(2);

}  // namespace
}  // namespace custvault::crypto

BENCHMARK_MAIN();
