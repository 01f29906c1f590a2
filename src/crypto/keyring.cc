#include "crypto/keyring.h"

#include <openssl/crypto.h>

#include <cstdio>
#include <limits>
#include <mutex>

#include "crypto/envelope.h"
#include "crypto/hash.h"

namespace custvault::crypto {
namespace {

inline constexpr int kMasterKeyFileMode = 0600;
inline constexpr std::string_view kSm4WrapLabel = "custvault sm4 wrap";
inline constexpr std::string_view kDomainKeyLabel = "custvault-domain-key";
inline constexpr std::string_view kCustomerKeyLabel = "custvault-customer-key";

void AppendU16(std::string* out, size_t value) {
  out->push_back(static_cast<char>((value >> 8) & 0xff));
  out->push_back(static_cast<char>(value & 0xff));
}

void AppendU32(std::string* out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

std::string OctalMode(int mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

// header || "custvault-domain-key" || u16 len || purpose || u32 version
std::string DomainKeyAssociatedData(std::string_view header, std::string_view purpose,
                                    uint32_t version) {
  std::string aad(header);
  aad.append(kDomainKeyLabel);
  AppendU16(&aad, purpose.size());
  aad.append(purpose);
  AppendU32(&aad, version);
  return aad;
}

// header || "custvault-customer-key" || u16 len || customer_id || u32 kek_version
std::string CustomerKeyAssociatedData(std::string_view header, std::string_view customer_id,
                                      uint32_t kek_version) {
  std::string aad(header);
  aad.append(kCustomerKeyLabel);
  AppendU16(&aad, customer_id.size());
  aad.append(customer_id);
  AppendU32(&aad, kek_version);
  return aad;
}

Status CheckBinding(std::string_view what, std::string_view value) {
  if (value.empty() || value.size() > kBindingBytesMax) {
    return InvalidArgument(std::string(what) + " must be 1.." + std::to_string(kBindingBytesMax) +
                           " bytes");
  }
  return Status::Ok();
}

Status CheckPurpose(std::string_view purpose) {
  if (purpose.empty() || purpose.size() > kPurposeBytesMax) {
    return InvalidArgument("key purpose must be 1.." + std::to_string(kPurposeBytesMax) + " bytes");
  }
  for (char c : purpose) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return InvalidArgument("key purpose may contain only a-z, 0-9 and '-'");
    }
  }
  return Status::Ok();
}

// Writes header || nonce || ciphertext || tag for `plaintext` under `key`,
// with associated data made by `make_aad` from the header.
template <typename MakeAad>
Result<std::string> Seal(AeadAlgorithm algorithm, std::string_view key, uint32_t key_version,
                         MakeAad make_aad, std::string_view plaintext) {
  std::string envelope = EnvelopeHeader(algorithm, key_version);
  uint8_t nonce[kAeadNonceBytes];
  RETURN_IF_ERROR(NextNonce(nonce));
  envelope.append(reinterpret_cast<const char*>(nonce), kAeadNonceBytes);
  envelope.reserve(kEnvelopeOverheadBytes + plaintext.size());
  const std::string aad = make_aad(std::string_view(envelope).substr(0, kEnvelopeHeaderBytes));
  RETURN_IF_ERROR(ThreadLocalAead(algorithm).Seal(
      key, std::string_view(envelope).substr(kEnvelopeHeaderBytes, kAeadNonceBytes), aad, plaintext,
      &envelope));
  return envelope;
}

}  // namespace

std::string_view Keyring::WrappingSecret::For(AeadAlgorithm algorithm) const {
  return algorithm == AeadAlgorithm::kAes256Gcm ? key.view() : sm4_key.view();
}

Keyring::WrappingSecret Keyring::MakeWrappingSecret(SecretBytes key) {
  // SM4 takes 16-byte keys; rather than cut the secret in half, derive a
  // separate key from all 32 bytes with HMAC-SM3 and a fixed label.
  Digest32 derived = HmacSm3(key.view(), kSm4WrapLabel);
  WrappingSecret secret{std::move(key), SecretBytes(DigestView(derived).substr(
                                            0, AeadKeyBytes(AeadAlgorithm::kSm4Gcm)))};
  OPENSSL_cleanse(derived.data(), derived.size());
  return secret;
}

Keyring::Keyring(Env* env, SecretBytes master, CryptoProfile profile)
    : env_(env), master_(MakeWrappingSecret(std::move(master))), profile_(profile) {}

Result<std::unique_ptr<Keyring>> Keyring::Open(Env* env, const std::string& master_key_path,
                                               CryptoProfile profile, bool create_if_missing) {
  if (!env->FileExists(master_key_path)) {
    if (!create_if_missing) {
      return NotFound("master key file " + master_key_path + " does not exist");
    }
    SecretBytes fresh(kMasterKeyBytes);
    RETURN_IF_ERROR(env->RandomBytes({fresh.data(), fresh.size()}));
    // Exclusive: never overwrite a master key, which would shred everything.
    Status written =
        env->WriteFileAtomic(master_key_path, fresh.view(), kMasterKeyFileMode, /*exclusive=*/true);
    // kConflict: another process created it between our check and write;
    // read theirs below.
    if (!written.ok() && written.code() != ErrorCode::kConflict) return written;
  }
  ASSIGN_OR_RETURN(const int mode, env->FileMode(master_key_path));
  if ((mode & 077) != 0) {
    return PermissionDenied("master key file " + master_key_path + " has mode " + OctalMode(mode) +
                            ", which lets group or others read it; run `chmod 600 " +
                            master_key_path + "` (and consider the key exposed)");
  }
  ASSIGN_OR_RETURN(std::string bytes, env->ReadFile(master_key_path));
  SecretBytes master(bytes);
  const size_t size = bytes.size();
  OPENSSL_cleanse(bytes.data(), bytes.size());
  if (size != kMasterKeyBytes) {
    return DataLoss("master key file " + master_key_path + " is " + std::to_string(size) +
                    " bytes; a master key is exactly " + std::to_string(kMasterKeyBytes));
  }
  return std::unique_ptr<Keyring>(new Keyring(env, std::move(master), profile));
}

AeadAlgorithm Keyring::WrapAlgorithm() const {
  return profile_ == CryptoProfile::kGm ? AeadAlgorithm::kSm4Gcm : AeadAlgorithm::kAes256Gcm;
}

const Keyring::WrappingSecret* Keyring::DomainKey(std::string_view purpose,
                                                  uint32_t version) const {
  std::shared_lock lock(mu_);
  auto it = domain_keys_.find({std::string(purpose), version});
  return it == domain_keys_.end() ? nullptr : &it->second;
}

const Keyring::WrappingSecret* Keyring::CurrentDomainKey(std::string_view purpose,
                                                         uint32_t* version) const {
  std::shared_lock lock(mu_);
  // The map is ordered by (purpose, version): the last entry of a purpose
  // is its highest version.
  auto it = domain_keys_.upper_bound({std::string(purpose), std::numeric_limits<uint32_t>::max()});
  if (it == domain_keys_.begin()) return nullptr;
  --it;
  if (it->first.first != purpose) return nullptr;
  *version = it->first.second;
  return &it->second;
}

uint32_t Keyring::BlindIndexKeyVersion() const {
  uint32_t version = 0;
  return CurrentDomainKey(kBlindIndexPurpose, &version) != nullptr ? version : 0;
}

Result<WrappedKey> Keyring::CreateDomainKey(std::string_view purpose, uint32_t version) {
  RETURN_IF_ERROR(CheckPurpose(purpose));
  if (version == 0) return InvalidArgument("key versions start at 1");
  if (DomainKey(purpose, version) != nullptr) {
    return Conflict(std::string(purpose) + " key v" + std::to_string(version) + " already exists");
  }
  SecretBytes key(kDomainKeyBytes);
  RETURN_IF_ERROR(env_->RandomBytes({key.data(), key.size()}));
  const AeadAlgorithm algorithm = WrapAlgorithm();
  ASSIGN_OR_RETURN(std::string wrapped, Seal(
                                            algorithm, master_.For(algorithm), kMasterKeyVersion,
                                            [&](std::string_view header) {
                                              return DomainKeyAssociatedData(header, purpose,
                                                                             version);
                                            },
                                            key.view()));
  WrappedKey result{std::string(purpose), version, std::move(wrapped)};
  RETURN_IF_ERROR(LoadDomainKey(result));
  return result;
}

Status Keyring::LoadDomainKey(const WrappedKey& wrapped) {
  RETURN_IF_ERROR(CheckPurpose(wrapped.purpose));
  ASSIGN_OR_RETURN(const EnvelopeView view, ParseEnvelope(wrapped.wrapped));
  if (view.key_version != kMasterKeyVersion) {
    return DataLoss(wrapped.purpose + " key v" + std::to_string(wrapped.version) +
                    " is wrapped by unknown master key version " +
                    std::to_string(view.key_version));
  }
  const std::string aad = DomainKeyAssociatedData(view.header, wrapped.purpose, wrapped.version);
  auto opened = ThreadLocalAead(view.algorithm)
                    .Open(master_.For(view.algorithm), view.nonce, aad, view.ciphertext_and_tag);
  if (!opened.ok()) {
    return DataLoss(wrapped.purpose + " key v" + std::to_string(wrapped.version) +
                    " does not open with this master key (" + opened.status().message() + ")");
  }
  SecretBytes key = std::move(opened).value();
  if (key.size() != kDomainKeyBytes) {
    return DataLoss(wrapped.purpose + " key v" + std::to_string(wrapped.version) +
                    " has the wrong size");
  }
  WrappingSecret secret = MakeWrappingSecret(std::move(key));

  std::unique_lock lock(mu_);
  auto key_id = std::make_pair(wrapped.purpose, wrapped.version);
  auto existing = domain_keys_.find(key_id);
  if (existing != domain_keys_.end()) {
    if (ConstantTimeEqual(existing->second.key.view(), secret.key.view())) return Status::Ok();
    return Conflict(wrapped.purpose + " key v" + std::to_string(wrapped.version) +
                    " is already loaded with different bytes");
  }
  if (wrapped.purpose == kBlindIndexPurpose) {
    auto other = domain_keys_.lower_bound({std::string(kBlindIndexPurpose), 0});
    if (other != domain_keys_.end() && other->first.first == kBlindIndexPurpose) {
      return Conflict("blind-index key v" + std::to_string(other->first.second) +
                      " is already loaded; a blind-index key cannot rotate in place "
                      "(every index would have to be recomputed)");
    }
  }
  domain_keys_.emplace(std::move(key_id), std::move(secret));
  return Status::Ok();
}

Result<NewCustomerKey> Keyring::CreateCustomerKey(std::string_view customer_id) const {
  RETURN_IF_ERROR(CheckBinding("customer id", customer_id));
  uint32_t kek_version = 0;
  const WrappingSecret* kek = CurrentDomainKey(kCustomerKekPurpose, &kek_version);
  if (kek == nullptr) return Internal("no customer-kek key is loaded");
  SecretBytes key(kCustomerKeyBytes);
  RETURN_IF_ERROR(env_->RandomBytes({key.data(), key.size()}));
  const AeadAlgorithm algorithm = WrapAlgorithm();
  ASSIGN_OR_RETURN(std::string wrapped, Seal(
                                            algorithm, kek->For(algorithm), kek_version,
                                            [&](std::string_view header) {
                                              return CustomerKeyAssociatedData(header, customer_id,
                                                                               kek_version);
                                            },
                                            key.view()));
  return NewCustomerKey{std::move(key), kek_version, std::move(wrapped)};
}

Result<SecretBytes> Keyring::UnwrapCustomerKey(std::string_view customer_id, uint32_t kek_version,
                                               std::string_view wrapped) const {
  RETURN_IF_ERROR(CheckBinding("customer id", customer_id));
  ASSIGN_OR_RETURN(const EnvelopeView view, ParseEnvelope(wrapped));
  if (view.key_version != kek_version) {
    return DataLoss("wrapped customer key names customer-kek v" + std::to_string(view.key_version) +
                    ", expected v" + std::to_string(kek_version));
  }
  const WrappingSecret* kek = DomainKey(kCustomerKekPurpose, kek_version);
  if (kek == nullptr) {
    return Internal("customer-kek v" + std::to_string(kek_version) + " is not loaded");
  }
  const std::string aad = CustomerKeyAssociatedData(view.header, customer_id, kek_version);
  ASSIGN_OR_RETURN(SecretBytes key,
                   ThreadLocalAead(view.algorithm)
                       .Open(kek->For(view.algorithm), view.nonce, aad, view.ciphertext_and_tag));
  if (key.size() != kCustomerKeyBytes) return DataLoss("unwrapped customer key has the wrong size");
  return key;
}

Result<std::string> Keyring::EncryptField(AeadAlgorithm algorithm, const SecretBytes& customer_key,
                                          uint32_t key_version, std::string_view customer_id,
                                          std::string_view field_key,
                                          std::string_view plaintext) const {
  if (customer_key.size() != kCustomerKeyBytes) {
    return InvalidArgument("customer data key must be " + std::to_string(kCustomerKeyBytes) +
                           " bytes");
  }
  if (profile_ == CryptoProfile::kGm && algorithm != AeadAlgorithm::kSm4Gcm) {
    return InvalidArgument("the gm crypto profile encrypts every field with sm4-gcm");
  }
  RETURN_IF_ERROR(CheckBinding("customer id", customer_id));
  RETURN_IF_ERROR(CheckBinding("field key", field_key));
  if (plaintext.size() > kFieldPlaintextBytesMax) {
    return TooLarge("value of field " + std::string(field_key) + " is over " +
                    std::to_string(kFieldPlaintextBytesMax) + " bytes");
  }
  const std::string_view key = algorithm == AeadAlgorithm::kAes256Gcm
                                   ? customer_key.view().substr(0, 32)
                                   : customer_key.view().substr(32, 16);
  return Seal(
      algorithm, key, key_version,
      [&](std::string_view header) { return FieldAssociatedData(header, customer_id, field_key); },
      plaintext);
}

Result<SecretBytes> Keyring::DecryptField(const SecretBytes& customer_key,
                                          std::string_view customer_id, std::string_view field_key,
                                          std::string_view envelope) const {
  if (customer_key.size() != kCustomerKeyBytes) {
    return InvalidArgument("customer data key must be " + std::to_string(kCustomerKeyBytes) +
                           " bytes");
  }
  RETURN_IF_ERROR(CheckBinding("customer id", customer_id));
  RETURN_IF_ERROR(CheckBinding("field key", field_key));
  ASSIGN_OR_RETURN(const EnvelopeView view, ParseEnvelope(envelope));
  const std::string_view key = view.algorithm == AeadAlgorithm::kAes256Gcm
                                   ? customer_key.view().substr(0, 32)
                                   : customer_key.view().substr(32, 16);
  // The associated data is rebuilt from the header as read: a changed
  // algorithm or key version changes it, and so does another customer or
  // field, and the tag then fails.
  const std::string aad = FieldAssociatedData(view.header, customer_id, field_key);
  return ThreadLocalAead(view.algorithm).Open(key, view.nonce, aad, view.ciphertext_and_tag);
}

Result<std::string> Keyring::BlindIndex(std::string_view field_key,
                                        std::string_view normalised) const {
  RETURN_IF_ERROR(CheckBinding("field key", field_key));
  if (field_key.find('\0') != std::string_view::npos) {
    return InvalidArgument("field key contains a NUL byte");
  }
  if (normalised.size() > kFieldPlaintextBytesMax) {
    return TooLarge("value of field " + std::string(field_key) + " is too long to index");
  }
  uint32_t version = 0;
  const WrappingSecret* key = CurrentDomainKey(kBlindIndexPurpose, &version);
  if (key == nullptr) return Internal("no blind-index key is loaded");
  // The parts are absorbed in place: no copy of the personal value is made
  // (and none is left in freed memory). The thread's cached keyed states
  // make this two SM3 compressions for a short value.
  constexpr std::string_view kSeparator("\0", 1);
  const Digest32 mac = HmacSm3(key->key.view(), {field_key, kSeparator, normalised});
  return std::string(DigestView(mac));
}

namespace {
Status CheckMacPurpose(std::string_view purpose) {
  RETURN_IF_ERROR(CheckPurpose(purpose));
  if (purpose == kCustomerKekPurpose || purpose == kBlindIndexPurpose) {
    return InvalidArgument("the " + std::string(purpose) + " key is not a MAC key");
  }
  return Status::Ok();
}
}  // namespace

Result<std::string> Keyring::DomainMac(std::string_view purpose, std::string_view data,
                                       uint32_t* version_used) const {
  RETURN_IF_ERROR(CheckMacPurpose(purpose));
  uint32_t version = 0;
  const WrappingSecret* key = CurrentDomainKey(purpose, &version);
  if (key == nullptr) return NotFound("no " + std::string(purpose) + " key is loaded");
  if (version_used != nullptr) *version_used = version;
  return std::string(DigestView(HmacSm3(key->key.view(), data)));
}

Result<std::string> Keyring::DomainMacWithVersion(std::string_view purpose, uint32_t version,
                                                  std::string_view data) const {
  RETURN_IF_ERROR(CheckMacPurpose(purpose));
  const WrappingSecret* key = DomainKey(purpose, version);
  if (key == nullptr) {
    return NotFound(std::string(purpose) + " key v" + std::to_string(version) + " is not loaded");
  }
  return std::string(DigestView(HmacSm3(key->key.view(), data)));
}

namespace {
inline constexpr std::string_view kDomainSealedLabel = "custvault-domain-sealed";

Status CheckSealPurpose(std::string_view purpose) {
  RETURN_IF_ERROR(CheckPurpose(purpose));
  if (purpose == kCustomerKekPurpose || purpose == kBlindIndexPurpose) {
    return InvalidArgument("the " + std::string(purpose) + " key seals nothing but its own use");
  }
  return Status::Ok();
}

// header || "custvault-domain-sealed" || u16 len || purpose || u16 len || binding
std::string DomainSealedAssociatedData(std::string_view header, std::string_view purpose,
                                       std::string_view binding) {
  std::string aad(header);
  aad.append(kDomainSealedLabel);
  AppendU16(&aad, purpose.size());
  aad.append(purpose);
  AppendU16(&aad, binding.size());
  aad.append(binding);
  return aad;
}
}  // namespace

Result<std::string> Keyring::SealWithDomainKey(std::string_view purpose, std::string_view binding,
                                               std::string_view plaintext) const {
  RETURN_IF_ERROR(CheckSealPurpose(purpose));
  RETURN_IF_ERROR(CheckBinding("binding", binding));
  if (plaintext.size() > kFieldPlaintextBytesMax) return TooLarge("secret is too large to seal");
  uint32_t version = 0;
  const WrappingSecret* key = CurrentDomainKey(purpose, &version);
  if (key == nullptr) return NotFound("no " + std::string(purpose) + " key is loaded");
  const AeadAlgorithm algorithm = WrapAlgorithm();
  return Seal(
      algorithm, key->For(algorithm), version,
      [&](std::string_view header) { return DomainSealedAssociatedData(header, purpose, binding); },
      plaintext);
}

Result<SecretBytes> Keyring::OpenWithDomainKey(std::string_view purpose, std::string_view binding,
                                               std::string_view envelope) const {
  RETURN_IF_ERROR(CheckSealPurpose(purpose));
  RETURN_IF_ERROR(CheckBinding("binding", binding));
  ASSIGN_OR_RETURN(const EnvelopeView view, ParseEnvelope(envelope));
  const WrappingSecret* key = DomainKey(purpose, view.key_version);
  if (key == nullptr) {
    return NotFound(std::string(purpose) + " key v" + std::to_string(view.key_version) +
                    " is not loaded");
  }
  const std::string aad = DomainSealedAssociatedData(view.header, purpose, binding);
  return ThreadLocalAead(view.algorithm)
      .Open(key->For(view.algorithm), view.nonce, aad, view.ciphertext_and_tag);
}

bool Keyring::HasDomainKey(std::string_view purpose) const {
  uint32_t version = 0;
  return CurrentDomainKey(purpose, &version) != nullptr;
}

}  // namespace custvault::crypto
