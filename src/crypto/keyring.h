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

enum class CryptoProfile { kDefault, kGm };  // kGm: SM4 wraps too

struct WrappedKey {
  std::string purpose;  // "customer-kek" | "blind-index" (or later "audit", "backup")
  uint32_t version = 0;
  std::string wrapped;  // envelope bytes
};

struct NewCustomerKey {
  SecretBytes key;          // kCustomerKeyBytes
  uint32_t kek_version = 0;
  std::string wrapped;      // envelope, bound to the customer id
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
  // purpose becomes current.
  Status LoadDomainKey(const WrappedKey& key);

  // A fresh customer data key, wrapped by the current customer-kek.
  Result<NewCustomerKey> CreateCustomerKey(std::string_view customer_id) const;
  Result<SecretBytes> UnwrapCustomerKey(std::string_view customer_id, uint32_t kek_version,
                                        std::string_view wrapped) const;

  // Encrypts one field value into an envelope bound to (customer, field).
  Result<std::string> EncryptField(AeadAlgorithm algorithm, const SecretBytes& customer_key,
                                   uint32_t key_version, std::string_view customer_id,
                                   std::string_view field_key, std::string_view plaintext) const;
  // kDataLoss if the envelope was changed or belongs to another customer or field.
  Result<SecretBytes> DecryptField(const SecretBytes& customer_key, std::string_view customer_id,
                                   std::string_view field_key, std::string_view envelope) const;

  // HMAC-SM3(blind-index key, field_key || 0x00 || normalised value), 32 bytes.
  Result<std::string> BlindIndex(std::string_view field_key, std::string_view normalised) const;

  CryptoProfile profile() const { return profile_; }

 private:
  Keyring(SecretBytes master, CryptoProfile profile);
  AeadAlgorithm WrapAlgorithm() const;
  const SecretBytes* DomainKey(std::string_view purpose, uint32_t version) const;
  const SecretBytes* CurrentDomainKey(std::string_view purpose, uint32_t* version) const;

  SecretBytes master_;
  CryptoProfile profile_;
  mutable std::shared_mutex mu_;  // readers: every lookup; writer: loading a key
  std::map<std::pair<std::string, uint32_t>, SecretBytes> domain_keys_;
};

}  // namespace custvault::crypto
