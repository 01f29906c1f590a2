// R-CRY-1 (binding), R-CRY-1a (gm profile), R-CRY-2 (key hierarchy, master
// key file), R-CRY-3 (blind index), R-CRY-5 (per-customer keys).
#include "crypto/keyring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/fake_env.h"
#include "crypto/envelope.h"

namespace custvault::crypto {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cv_keyring_XXXXXX").string();
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class KeyringTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }
  std::string KeyPath() const { return dir_.path() + "/master.key"; }

  std::unique_ptr<Keyring> OpenWithKeys(CryptoProfile profile) {
    auto keyring = Keyring::Open(&env_, KeyPath(), profile, /*create_if_missing=*/true);
    EXPECT_TRUE(keyring.ok()) << keyring.status().ToString();
    if (!keyring.ok()) return nullptr;
    auto kek = (*keyring)->CreateDomainKey(kCustomerKekPurpose, 1);
    EXPECT_TRUE(kek.ok()) << kek.status().ToString();
    auto index = (*keyring)->CreateDomainKey(kBlindIndexPurpose, 1);
    EXPECT_TRUE(index.ok()) << index.status().ToString();
    if (kek.ok()) kek_ = *kek;
    if (index.ok()) blind_index_ = *index;
    return std::move(keyring).value();
  }

  FakeEnv env_;
  TempDir dir_;
  WrappedKey kek_;
  WrappedKey blind_index_;
};

TEST_F(KeyringTest, CreatesMasterKeyFileWithMode0600) {
  auto keyring = Keyring::Open(&env_, KeyPath(), CryptoProfile::kDefault, true);
  ASSERT_TRUE(keyring.ok()) << keyring.status().ToString();
  struct stat st {};
  ASSERT_EQ(stat(KeyPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kMasterKeyBytes));
}

TEST_F(KeyringTest, MissingFileWithoutCreateIsNotFound) {
  auto keyring = Keyring::Open(&env_, KeyPath(), CryptoProfile::kDefault, false);
  EXPECT_EQ(keyring.status().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(env_.FileExists(KeyPath()));
}

TEST_F(KeyringTest, RefusesGroupOrWorldReadableFileAndSaysHowToFix) {
  ASSERT_TRUE(Keyring::Open(&env_, KeyPath(), CryptoProfile::kDefault, true).ok());
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    ASSERT_EQ(chmod(KeyPath().c_str(), mode), 0);
    auto keyring = Keyring::Open(&env_, KeyPath(), CryptoProfile::kDefault, false);
    ASSERT_EQ(keyring.status().code(), ErrorCode::kPermissionDenied) << std::oct << mode;
    const std::string& message = keyring.status().message();
    EXPECT_NE(message.find(KeyPath()), std::string::npos) << message;
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    EXPECT_NE(message.find(octal), std::string::npos) << message;
    EXPECT_NE(message.find("chmod 600"), std::string::npos) << message;
  }
  ASSERT_EQ(chmod(KeyPath().c_str(), 0400), 0);  // owner read-only is fine
  EXPECT_TRUE(Keyring::Open(&env_, KeyPath(), CryptoProfile::kDefault, false).ok());
}

TEST_F(KeyringTest, RefusesFileOfWrongSize) {
  for (size_t size : {0u, 16u, 31u, 33u, 64u}) {
    std::filesystem::remove(KeyPath());
    ASSERT_TRUE(env_.WriteFileAtomic(KeyPath(), std::string(size, 'k'), 0600, true).ok());
    auto keyring = Keyring::Open(&env_, KeyPath(), CryptoProfile::kDefault, true);
    EXPECT_EQ(keyring.status().code(), ErrorCode::kDataLoss) << size;
    EXPECT_NE(keyring.status().message().find(KeyPath()), std::string::npos);
    // The wrong file is left alone, never replaced by a fresh key.
    EXPECT_EQ(std::filesystem::file_size(KeyPath()), size);
  }
}

TEST_F(KeyringTest, FailedWriteOfNewMasterKeyIsReported) {
  env_.FailNextWrites(1);
  auto keyring = Keyring::Open(&env_, KeyPath(), CryptoProfile::kDefault, true);
  EXPECT_FALSE(keyring.ok());
  EXPECT_FALSE(env_.FileExists(KeyPath()));
}

TEST_F(KeyringTest, ReopenedKeyringLoadsDomainKeysAndOpensCustomerKeys) {
  std::string wrapped_customer;
  SecretBytes customer_key;
  {
    auto keyring = OpenWithKeys(CryptoProfile::kDefault);
    ASSERT_NE(keyring, nullptr);
    auto created = keyring->CreateCustomerKey("C-1");
    ASSERT_TRUE(created.ok());
    EXPECT_EQ(created->kek_version, 1u);
    EXPECT_EQ(created->key.size(), kCustomerKeyBytes);
    wrapped_customer = created->wrapped;
    customer_key = std::move(created->key);
  }
  auto reopened = Keyring::Open(&env_, KeyPath(), CryptoProfile::kDefault, false);
  ASSERT_TRUE(reopened.ok());
  // Not loaded yet: the customer key cannot be unwrapped.
  EXPECT_FALSE((*reopened)->UnwrapCustomerKey("C-1", 1, wrapped_customer).ok());
  ASSERT_TRUE((*reopened)->LoadDomainKey(kek_).ok());
  ASSERT_TRUE((*reopened)->LoadDomainKey(kek_).ok());  // loading twice is harmless
  auto unwrapped = (*reopened)->UnwrapCustomerKey("C-1", 1, wrapped_customer);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(ConstantTimeEqual(unwrapped->view(), customer_key.view()));
}

TEST_F(KeyringTest, DomainKeyDoesNotOpenUnderAnotherMasterKeyPurposeOrVersion) {
  auto keyring = OpenWithKeys(CryptoProfile::kDefault);
  ASSERT_NE(keyring, nullptr);
  WrappedKey renamed = kek_;
  renamed.purpose = "audit";
  EXPECT_EQ(keyring->LoadDomainKey(renamed).code(), ErrorCode::kDataLoss);
  WrappedKey bumped = kek_;
  bumped.version = 2;
  EXPECT_EQ(keyring->LoadDomainKey(bumped).code(), ErrorCode::kDataLoss);

  TempDir other_dir;
  auto other =
      Keyring::Open(&env_, other_dir.path() + "/master.key", CryptoProfile::kDefault, true);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->LoadDomainKey(kek_).code(), ErrorCode::kDataLoss);
}

TEST_F(KeyringTest, CreatingAnExistingDomainKeyVersionConflicts) {
  auto keyring = OpenWithKeys(CryptoProfile::kDefault);
  ASSERT_NE(keyring, nullptr);
  EXPECT_EQ(keyring->CreateDomainKey(kCustomerKekPurpose, 1).status().code(), ErrorCode::kConflict);
  EXPECT_EQ(keyring->CreateDomainKey(kCustomerKekPurpose, 0).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(keyring->CreateDomainKey("Bad Purpose", 1).status().code(),
            ErrorCode::kInvalidArgument);
}

TEST_F(KeyringTest, NewKekVersionWrapsFromThenOnAndOldWrapsStillOpen) {
  auto keyring = OpenWithKeys(CryptoProfile::kDefault);
  ASSERT_NE(keyring, nullptr);
  auto old_customer = keyring->CreateCustomerKey("C-1");
  ASSERT_TRUE(old_customer.ok());
  ASSERT_TRUE(keyring->CreateDomainKey(kCustomerKekPurpose, 2).ok());
  auto new_customer = keyring->CreateCustomerKey("C-2");
  ASSERT_TRUE(new_customer.ok());
  EXPECT_EQ(new_customer->kek_version, 2u);
  EXPECT_TRUE(keyring->UnwrapCustomerKey("C-1", 1, old_customer->wrapped).ok());
  EXPECT_TRUE(keyring->UnwrapCustomerKey("C-2", 2, new_customer->wrapped).ok());
  // Claiming the wrong kek version is refused.
  EXPECT_EQ(keyring->UnwrapCustomerKey("C-1", 2, old_customer->wrapped).status().code(),
            ErrorCode::kDataLoss);
}

TEST_F(KeyringTest, WrappedCustomerKeyMovedToAnotherCustomerFails) {
  auto keyring = OpenWithKeys(CryptoProfile::kDefault);
  ASSERT_NE(keyring, nullptr);
  auto created = keyring->CreateCustomerKey("C-1");
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(keyring->UnwrapCustomerKey("C-2", 1, created->wrapped).status().code(),
            ErrorCode::kDataLoss);
  std::string flipped = created->wrapped;
  flipped[flipped.size() / 2] ^= 0x20;
  EXPECT_EQ(keyring->UnwrapCustomerKey("C-1", 1, flipped).status().code(), ErrorCode::kDataLoss);
}

TEST_F(KeyringTest, DefaultProfileWrapsWithAesAndGmProfileWithSm4) {
  auto default_keyring = OpenWithKeys(CryptoProfile::kDefault);
  ASSERT_NE(default_keyring, nullptr);
  auto default_customer = default_keyring->CreateCustomerKey("C-1");
  ASSERT_TRUE(default_customer.ok());
  EXPECT_EQ(ParseEnvelope(kek_.wrapped)->algorithm, AeadAlgorithm::kAes256Gcm);
  EXPECT_EQ(ParseEnvelope(default_customer->wrapped)->algorithm, AeadAlgorithm::kAes256Gcm);

  TempDir gm_dir;
  auto gm = Keyring::Open(&env_, gm_dir.path() + "/master.key", CryptoProfile::kGm, true);
  ASSERT_TRUE(gm.ok());
  EXPECT_EQ((*gm)->profile(), CryptoProfile::kGm);
  auto gm_kek = (*gm)->CreateDomainKey(kCustomerKekPurpose, 1);
  ASSERT_TRUE(gm_kek.ok());
  auto gm_customer = (*gm)->CreateCustomerKey("C-1");
  ASSERT_TRUE(gm_customer.ok());
  auto kek_view = ParseEnvelope(gm_kek->wrapped);
  ASSERT_TRUE(kek_view.ok());
  EXPECT_EQ(kek_view->algorithm, AeadAlgorithm::kSm4Gcm);
  EXPECT_EQ(kek_view->key_version, kMasterKeyVersion);
  auto customer_view = ParseEnvelope(gm_customer->wrapped);
  ASSERT_TRUE(customer_view.ok());
  EXPECT_EQ(customer_view->algorithm, AeadAlgorithm::kSm4Gcm);
  EXPECT_EQ(customer_view->key_version, 1u);
  auto unwrapped = (*gm)->UnwrapCustomerKey("C-1", 1, gm_customer->wrapped);
  ASSERT_TRUE(unwrapped.ok()) << unwrapped.status().ToString();
  EXPECT_TRUE(ConstantTimeEqual(unwrapped->view(), gm_customer->key.view()));
}

TEST_F(KeyringTest, GmProfileRefusesAesFields) {
  auto keyring = OpenWithKeys(CryptoProfile::kGm);
  ASSERT_NE(keyring, nullptr);
  auto customer = keyring->CreateCustomerKey("C-1");
  ASSERT_TRUE(customer.ok());
  EXPECT_EQ(keyring->EncryptField(AeadAlgorithm::kAes256Gcm, customer->key, 1, "C-1", "name", "x")
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(
      keyring->EncryptField(AeadAlgorithm::kSm4Gcm, customer->key, 1, "C-1", "name", "x").ok());
}

class FieldEncryptionTest : public KeyringTest,
                            public ::testing::WithParamInterface<AeadAlgorithm> {
 protected:
  void SetUp() override {
    KeyringTest::SetUp();
    keyring_ = OpenWithKeys(CryptoProfile::kDefault);
    ASSERT_NE(keyring_, nullptr);
    auto customer = keyring_->CreateCustomerKey("C-100");
    ASSERT_TRUE(customer.ok());
    customer_key_ = std::move(customer->key);
    auto sealed = keyring_->EncryptField(GetParam(), customer_key_, 3, "C-100", "mobile",
                                         "13800138000 and more to make 32b");
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    envelope_ = *sealed;
  }
  Status Decrypt(std::string_view customer, std::string_view field, std::string_view envelope) {
    return keyring_->DecryptField(customer_key_, customer, field, envelope).status();
  }

  std::unique_ptr<Keyring> keyring_;
  SecretBytes customer_key_;
  std::string envelope_;
};

TEST_P(FieldEncryptionTest, RoundTripsAndRecordsAlgorithmAndKeyVersion) {
  auto view = ParseEnvelope(envelope_);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->algorithm, GetParam());
  EXPECT_EQ(view->key_version, 3u);
  EXPECT_EQ(envelope_.size(), kEnvelopeOverheadBytes + 32);
  auto plain = keyring_->DecryptField(customer_key_, "C-100", "mobile", envelope_);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->view(), "13800138000 and more to make 32b");
}

TEST_P(FieldEncryptionTest, SamePlaintextEncryptsDifferentlyEachTime) {
  auto again = keyring_->EncryptField(GetParam(), customer_key_, 3, "C-100", "mobile",
                                      "13800138000 and more to make 32b");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, envelope_);  // fresh nonce
}

TEST_P(FieldEncryptionTest, EveryFlippedByteFails) {
  for (size_t i = 0; i < envelope_.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      std::string changed = envelope_;
      changed[i] = static_cast<char>(changed[i] ^ bit);
      Status status = Decrypt("C-100", "mobile", changed);
      EXPECT_EQ(status.code(), ErrorCode::kDataLoss) << "byte " << i << " bit " << int{bit};
    }
  }
}

TEST_P(FieldEncryptionTest, MovedToAnotherCustomerOrFieldFails) {
  EXPECT_EQ(Decrypt("C-101", "mobile", envelope_).code(), ErrorCode::kDataLoss);
  EXPECT_EQ(Decrypt("C-10", "mobile", envelope_).code(), ErrorCode::kDataLoss);
  EXPECT_EQ(Decrypt("C-100", "email", envelope_).code(), ErrorCode::kDataLoss);
  EXPECT_EQ(Decrypt("C-100", "mobil", envelope_).code(), ErrorCode::kDataLoss);
}

TEST_P(FieldEncryptionTest, ChangedHeaderAlgorithmOrKeyVersionFails) {
  std::string other_algorithm = envelope_;
  other_algorithm[1] = GetParam() == AeadAlgorithm::kAes256Gcm ? 2 : 1;
  EXPECT_EQ(Decrypt("C-100", "mobile", other_algorithm).code(), ErrorCode::kDataLoss);
  std::string other_version = envelope_;
  other_version[5] = 4;
  EXPECT_EQ(Decrypt("C-100", "mobile", other_version).code(), ErrorCode::kDataLoss);
  std::string truncated = envelope_.substr(0, kEnvelopeOverheadBytes - 1);
  EXPECT_EQ(Decrypt("C-100", "mobile", truncated).code(), ErrorCode::kDataLoss);
}

TEST_P(FieldEncryptionTest, AnotherCustomersKeyCannotDecrypt) {
  // R-CRY-5: once a customer's data key is destroyed, no other key opens
  // their values (here: a second customer's key stands for "any key").
  auto other = keyring_->CreateCustomerKey("C-200");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(keyring_->DecryptField(other->key, "C-100", "mobile", envelope_).status().code(),
            ErrorCode::kDataLoss);
}

TEST_P(FieldEncryptionTest, RefusesBadArgumentsWithoutEchoingTheValue) {
  SecretBytes short_key(16);
  EXPECT_EQ(keyring_->EncryptField(GetParam(), short_key, 1, "C-1", "f", "v").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(keyring_->EncryptField(GetParam(), customer_key_, 1, "", "f", "v").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(keyring_->EncryptField(GetParam(), customer_key_, 1, "C-1", std::string(300, 'f'), "v")
                .status()
                .code(),
            ErrorCode::kInvalidArgument);
  const std::string huge(kFieldPlaintextBytesMax + 1, 'S');
  auto too_large = keyring_->EncryptField(GetParam(), customer_key_, 1, "C-1", "f", huge);
  EXPECT_EQ(too_large.status().code(), ErrorCode::kTooLarge);
  EXPECT_EQ(too_large.status().message().find("SSSS"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, FieldEncryptionTest,
                         ::testing::Values(AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kSm4Gcm),
                         [](const auto& info) {
                           return info.param == AeadAlgorithm::kAes256Gcm ? "Aes256Gcm" : "Sm4Gcm";
                         });

TEST_F(KeyringTest, BlindIndexIsDeterministicKeyedAndSeparatedByField) {
  auto keyring = OpenWithKeys(CryptoProfile::kDefault);
  ASSERT_NE(keyring, nullptr);
  auto a = keyring->BlindIndex("mobile", "13800138000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(*keyring->BlindIndex("mobile", "13800138000"), *a);
  EXPECT_NE(*keyring->BlindIndex("mobile", "13800138001"), *a);
  EXPECT_NE(*keyring->BlindIndex("phone", "13800138000"), *a);
  // The 0x00 separator keeps ("ab","c") and ("a","bc") apart.
  EXPECT_NE(*keyring->BlindIndex("ab", "c"), *keyring->BlindIndex("a", "bc"));
  EXPECT_EQ(keyring->BlindIndex(std::string_view("a\0b", 3), "v").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(keyring->BlindIndexKeyVersion(), 1u);

  // Another deployment (another blind-index key) gives other indexes.
  TempDir other_dir;
  auto other =
      Keyring::Open(&env_, other_dir.path() + "/master.key", CryptoProfile::kDefault, true);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->CreateDomainKey(kBlindIndexPurpose, 1).ok());
  EXPECT_NE(*(*other)->BlindIndex("mobile", "13800138000"), *a);
}

TEST_F(KeyringTest, BlindIndexSurvivesReopenAndRefusesASecondVersion) {
  std::string index;
  {
    auto keyring = OpenWithKeys(CryptoProfile::kDefault);
    ASSERT_NE(keyring, nullptr);
    index = *keyring->BlindIndex("mobile", "13800138000");
    EXPECT_EQ(keyring->CreateDomainKey(kBlindIndexPurpose, 2).status().code(),
              ErrorCode::kConflict);
  }
  auto reopened = Keyring::Open(&env_, KeyPath(), CryptoProfile::kDefault, false);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->BlindIndex("mobile", "x").status().code(), ErrorCode::kInternal);
  EXPECT_EQ((*reopened)->BlindIndexKeyVersion(), 0u);
  ASSERT_TRUE((*reopened)->LoadDomainKey(blind_index_).ok());
  EXPECT_EQ(*(*reopened)->BlindIndex("mobile", "13800138000"), index);
}

TEST_F(KeyringTest, ConstMethodsAreSafeFromManyThreads) {
  auto keyring = OpenWithKeys(CryptoProfile::kDefault);
  ASSERT_NE(keyring, nullptr);
  auto customer = keyring->CreateCustomerKey("C-1");
  ASSERT_TRUE(customer.ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const AeadAlgorithm algorithm = t % 2 ? AeadAlgorithm::kSm4Gcm : AeadAlgorithm::kAes256Gcm;
      for (int i = 0; i < 100; ++i) {
        auto key = keyring->UnwrapCustomerKey("C-1", 1, customer->wrapped);
        if (!key.ok()) {
          ++failures;
          continue;
        }
        auto sealed = keyring->EncryptField(algorithm, *key, 1, "C-1", "name", "value");
        if (!sealed.ok()) {
          ++failures;
          continue;
        }
        auto opened = keyring->DecryptField(*key, "C-1", "name", *sealed);
        if (!opened.ok() || opened->view() != "value") ++failures;
        if (!keyring->BlindIndex("name", "value").ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

// Account secrets (TOTP) are sealed by a domain key and bound to the
// account: another account's envelope, a changed byte or another purpose
// does not open.
TEST_F(KeyringTest, DomainSealedSecretsOpenOnlyWithTheSamePurposeAndBinding) {
  for (CryptoProfile profile : {CryptoProfile::kDefault, CryptoProfile::kGm}) {
    std::filesystem::remove(KeyPath());
    std::unique_ptr<Keyring> keyring = OpenWithKeys(profile);
    ASSERT_NE(keyring, nullptr);
    EXPECT_EQ(keyring->SealWithDomainKey("account-secrets", "u1", "s").status().code(),
              ErrorCode::kNotFound);
    EXPECT_FALSE(keyring->HasDomainKey("account-secrets"));
    ASSERT_TRUE(keyring->CreateDomainKey("account-secrets", 1).ok());
    EXPECT_TRUE(keyring->HasDomainKey("account-secrets"));
    Result<std::string> sealed = keyring->SealWithDomainKey("account-secrets", "u1", "totp-secret");
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    EXPECT_EQ(sealed->find("totp-secret"), std::string::npos);
    Result<SecretBytes> opened = keyring->OpenWithDomainKey("account-secrets", "u1", *sealed);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(opened->view(), "totp-secret");
    EXPECT_EQ(keyring->OpenWithDomainKey("account-secrets", "u2", *sealed).status().code(),
              ErrorCode::kDataLoss);
    std::string tampered = *sealed;
    tampered.back() ^= 1;
    EXPECT_EQ(keyring->OpenWithDomainKey("account-secrets", "u1", tampered).status().code(),
              ErrorCode::kDataLoss);
    EXPECT_EQ(keyring->SealWithDomainKey(kCustomerKekPurpose, "u1", "x").status().code(),
              ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace custvault::crypto
