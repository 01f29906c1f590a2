// Keyring: the key hierarchy (R-CRY-2, R-CRY-5) and field encryption.
//
//   master key (32 random bytes, file mode 0600, never leaves this class)
//     wraps domain keys, stored wrapped in the database by the caller:
//       "customer-kek" vN  wraps each customer's data key
//       "blind-index"  vN  HMAC-SM3 key for exact-search indexes
//     customer data key (48 bytes: 32 for AES-256-GCM, 16 for SM4-GCM),
//       wrapped by customer-kek; deleting it crypto-shreds the customer,
//       copies in old backups included.
//
// Every wrap is an envelope (see envelope.h) whose associated data names
// what it wraps, so a wrapped key moved to another customer does not open.
// Thread safety: after Open and LoadDomainKey calls at start, every const
// method may be called from many threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/status.h"
#include "crypto/aead.h"
#include "crypto/secret.h"

namespace custvault::crypto {

inline constexpr size_t kMasterKeyBytes = 32;
inline constexpr size_t kCustomerKeyBytes = 48;
inline constexpr size_t kDomainKeyBytes = 32;
// The master key has one version for now; it is the key version written in
// the header of every domain-key envelope, so a later master-key rotation
// can tell old wraps from new ones.
inline constexpr uint32_t kMasterKeyVersion = 1;
// Longest field value EncryptField accepts (kTooLarge above it).
inline constexpr size_t kFieldPlaintextBytesMax = 64 * 1024;
inline constexpr size_t kPurposeBytesMax = 64;
inline constexpr std::string_view kCustomerKekPurpose = "customer-kek";
inline constexpr std::string_view kBlindIndexPurpose = "blind-index";

enum class CryptoProfile { kDefault, kGm };  // kGm: SM4 wraps too

struct WrappedKey {
  std::string purpose;  // "customer-kek" | "blind-index" (or later "audit", "backup")
  uint32_t version = 0;
  std::string wrapped;  // envelope bytes
};

struct NewCustomerKey {
  SecretBytes key;  // kCustomerKeyBytes
  uint32_t kek_version = 0;
  std::string wrapped;  // envelope, bound to the customer id
};

class Keyring {
 public:
  // Reads the master key file. If it is missing and create_if_missing is
  // set, creates it with mode 0600. Refuses (kPermissionDenied) a file whose
  // mode grants anything to group or others, and a file of the wrong size.
  static Result<std::unique_ptr<Keyring>> Open(Env* env, const std::string& master_key_path,
                                               CryptoProfile profile, bool create_if_missing);

  // Makes a new random domain key and returns it wrapped for storage; it is
  // also loaded.
  Result<WrappedKey> CreateDomainKey(std::string_view purpose, uint32_t version);
  // Unwraps a stored domain key and keeps it; the highest version of each
  // purpose becomes current. kDataLoss if the envelope does not open (wrong
  // master key, tampered, or purpose/version changed). The blind-index key
  // is fixed at the first version loaded: loading another version is
  // kConflict, because indexes made with one key never match another
  // (rotating it means re-indexing every searchable field offline).
  // Envelopes of either algorithm are accepted, so a deployment that moves
  // to the gm profile can still read keys wrapped before.
  Status LoadDomainKey(const WrappedKey& key);
  // Version of the loaded blind-index key, 0 if none.
  uint32_t BlindIndexKeyVersion() const;

  // A fresh customer data key, wrapped by the current customer-kek.
  Result<NewCustomerKey> CreateCustomerKey(std::string_view customer_id) const;
  Result<SecretBytes> UnwrapCustomerKey(std::string_view customer_id, uint32_t kek_version,
                                        std::string_view wrapped) const;

  // Encrypts one field value into an envelope bound to (customer, field).
  // customer_key is the 48-byte data key; AES-256-GCM uses bytes [0,32),
  // SM4-GCM bytes [32,48). Under the gm profile AES-256-GCM is refused
  // (kInvalidArgument). customer_id and field_key: 1..kBindingBytesMax
  // bytes; plaintext at most kFieldPlaintextBytesMax (kTooLarge).
  Result<std::string> EncryptField(AeadAlgorithm algorithm, const SecretBytes& customer_key,
                                   uint32_t key_version, std::string_view customer_id,
                                   std::string_view field_key, std::string_view plaintext) const;
  // kDataLoss if the envelope was changed or belongs to another customer or field.
  Result<SecretBytes> DecryptField(const SecretBytes& customer_key, std::string_view customer_id,
                                   std::string_view field_key, std::string_view envelope) const;

  // HMAC-SM3(blind-index key, field_key || 0x00 || normalised value), 32 bytes.
  // field_key must not contain 0x00. Internal error if no blind-index key
  // is loaded.
  Result<std::string> BlindIndex(std::string_view field_key, std::string_view normalised) const;

  // HMAC-SM3(current key of `purpose`, data), 32 bytes, for a domain key
  // used as a MAC key (the audit checkpoints use purpose "audit").
  // *version_used, when given, receives the key version, to be stored with
  // the MAC so it can be checked after a rotation. kNotFound if no key of
  // that purpose is loaded; kInvalidArgument for the customer-kek and
  // blind-index purposes, whose keys must serve only their own use.
  Result<std::string> DomainMac(std::string_view purpose, std::string_view data,
                                uint32_t* version_used = nullptr) const;
  // The same with a named key version; kNotFound if it is not loaded.
  Result<std::string> DomainMacWithVersion(std::string_view purpose, uint32_t version,
                                           std::string_view data) const;

  // Seals a small secret that is not customer data (e.g. an account's TOTP
  // secret) under the current key of `purpose` ("account-secrets"),
  // bound to `binding` (the account id): the envelope opens only with the
  // same purpose and binding. The envelope's key version is the domain key
  // version. kNotFound if no key of that purpose is loaded;
  // kInvalidArgument for the customer-kek and blind-index purposes and for
  // a binding outside 1..kBindingBytesMax; kTooLarge over
  // kFieldPlaintextBytesMax.
  Result<std::string> SealWithDomainKey(std::string_view purpose, std::string_view binding,
                                        std::string_view plaintext) const;
  // kDataLoss if the envelope was changed or belongs to another binding.
  Result<SecretBytes> OpenWithDomainKey(std::string_view purpose, std::string_view binding,
                                        std::string_view envelope) const;
  // Whether any version of `purpose` is loaded.
  bool HasDomainKey(std::string_view purpose) const;

  CryptoProfile profile() const { return profile_; }

 private:
  // A 32-byte wrapping secret with the SM4 key derived from it (first 16
  // bytes of HMAC-SM3(secret, "custvault sm4 wrap")), computed once.
  struct WrappingSecret {
    SecretBytes key;      // 32 bytes: AES-256-GCM key, or HMAC-SM3 key
    SecretBytes sm4_key;  // 16 bytes
    std::string_view For(AeadAlgorithm algorithm) const;
  };
  static WrappingSecret MakeWrappingSecret(SecretBytes key);

  Keyring(Env* env, SecretBytes master, CryptoProfile profile);
  AeadAlgorithm WrapAlgorithm() const;
  // Map nodes are never erased or changed once inserted, so the pointers
  // stay valid after the lock is released.
  const WrappingSecret* DomainKey(std::string_view purpose, uint32_t version) const;
  const WrappingSecret* CurrentDomainKey(std::string_view purpose, uint32_t* version) const;

  Env* env_;
  WrappingSecret master_;
  CryptoProfile profile_;
  mutable std::shared_mutex mu_;  // readers: every lookup; writer: loading a key
  std::map<std::pair<std::string, uint32_t>, WrappingSecret> domain_keys_;
};

}  // namespace custvault::crypto
