#include "service/vault.h"

#include <sstream>

#include "common/encoding.h"
#include "crypto/hash.h"
#include "crypto/secret.h"

namespace custvault::service {
namespace {

constexpr char kBootstrapTokenSetting[] = "bootstrap_token_sm3";
constexpr char kTokenPrefix[] = "cvb_";  // makes a leaked token easy to recognise and scan for

crypto::CryptoProfile ProfileOf(const Config& config) {
  return config.crypto.profile == "gm" ? crypto::CryptoProfile::kGm
                                       : crypto::CryptoProfile::kDefault;
}

Result<Config> LoadConfig(Env* env, const std::string& data_dir,
                          const std::map<std::string, std::string>& environment) {
  std::string text;
  Result<std::string> file = env->ReadFile(data_dir + "/" + kConfigFileName);
  if (file.ok()) {
    text = std::move(*file);
  } else if (file.status().code() != ErrorCode::kNotFound) {
    return file.status();
  }
  return ParseConfig(text, data_dir, environment);
}

Result<std::unique_ptr<catalog::Catalog>> LoadCatalog(Env* env, const Config& config) {
  std::string extra;
  if (!config.catalog.extra_fields_file.empty()) {
    ASSIGN_OR_RETURN(extra, env->ReadFile(config.DataPath(config.catalog.extra_fields_file)));
  }
  ASSIGN_OR_RETURN(catalog::Catalog catalog,
                   catalog::Catalog::Load(catalog::Catalog::DefaultToml(), extra, config.catalog,
                                          config.limits, config.crypto.profile));
  return std::make_unique<catalog::Catalog>(std::move(catalog));
}

Result<std::unique_ptr<store::Store>> OpenStore(const Config& config) {
  store::SqliteOptions options;
  options.path = config.DataPath(config.storage.sqlite_file);
  options.readers = config.storage.sqlite_readers;
  options.busy_timeout_ms = config.storage.busy_timeout_ms;
  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store, store::OpenSqliteStore(options));
  RETURN_IF_ERROR(store->Migrate());
  return store;
}

std::string TokenHash(std::string_view token) {
  return HexEncode(crypto::DigestView(crypto::Sm3(token)));
}

}  // namespace

Result<InitResult> InitDataDirectory(Env* env, const std::string& data_dir,
                                     const std::map<std::string, std::string>& environment) {
  RETURN_IF_ERROR(env->CreateDirectories(data_dir, 0700));
  const std::string config_path = data_dir + "/" + kConfigFileName;
  if (!env->FileExists(config_path)) {
    RETURN_IF_ERROR(env->WriteFileAtomic(config_path, DefaultConfigToml(), 0600, true));
  }
  ASSIGN_OR_RETURN(const Config config, LoadConfig(env, data_dir, environment));
  // Validate the catalog settings now rather than at the first serve.
  ASSIGN_OR_RETURN(std::unique_ptr<catalog::Catalog> catalog, LoadCatalog(env, config));

  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store, OpenStore(config));
  ASSIGN_OR_RETURN(std::optional<std::string> existing, store->GetSetting(kBootstrapTokenSetting));
  if (existing.has_value()) {
    return Conflict("data directory is already initialised: " + data_dir);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<crypto::Keyring> keyring,
                   crypto::Keyring::Open(env, config.DataPath(config.crypto.master_key_file),
                                         ProfileOf(config), /*create_if_missing=*/true));
  ASSIGN_OR_RETURN(std::vector<store::StoredKey> keys, store->ListKeys());
  if (keys.empty()) {
    for (const char* purpose : {"customer-kek", "blind-index"}) {
      ASSIGN_OR_RETURN(crypto::WrappedKey wrapped, keyring->CreateDomainKey(purpose, 1));
      RETURN_IF_ERROR(
          store->PutKey({wrapped.purpose, wrapped.version, wrapped.wrapped, env->NowMicros()}));
    }
  }

  crypto::SecretBytes raw(kBootstrapTokenBytes);
  RETURN_IF_ERROR(env->RandomBytes({raw.data(), raw.size()}));
  InitResult result;
  result.bootstrap_token = kTokenPrefix + HexEncode(raw.view());
  result.credentials_path = data_dir + "/" + kInitialCredentialsFileName;
  std::ostringstream credentials;
  credentials << "# custvault initial credentials. Shown once; keep them safe, then delete\n"
              << "# this file. Use as: Authorization: Bearer <token>\n"
              << "bootstrap_token=" << result.bootstrap_token << "\n";
  RETURN_IF_ERROR(env->WriteFileAtomic(result.credentials_path, credentials.str(), 0600, false));
  // The hash goes in last: a crash before this line leaves an uninitialised
  // directory that init can complete again.
  RETURN_IF_ERROR(store->PutSetting(kBootstrapTokenSetting, TokenHash(result.bootstrap_token)));
  return result;
}

Result<std::unique_ptr<Vault>> Vault::Open(Env* env, const std::string& data_dir,
                                           const std::map<std::string, std::string>& environment) {
  if (!env->FileExists(data_dir + "/" + kConfigFileName)) {
    return NotFound("no custvault data directory at " + data_dir +
                    " (run: custvault init --data-dir " + data_dir + ")");
  }
  std::unique_ptr<Vault> vault(new Vault());
  ASSIGN_OR_RETURN(vault->config_, LoadConfig(env, data_dir, environment));
  ASSIGN_OR_RETURN(vault->catalog_, LoadCatalog(env, vault->config_));
  const Config& config = vault->config_;
  ASSIGN_OR_RETURN(vault->keyring_,
                   crypto::Keyring::Open(env, config.DataPath(config.crypto.master_key_file),
                                         ProfileOf(config), /*create_if_missing=*/false));
  ASSIGN_OR_RETURN(vault->store_, OpenStore(config));
  ASSIGN_OR_RETURN(std::optional<std::string> token_hash,
                   vault->store_->GetSetting(kBootstrapTokenSetting));
  if (!token_hash) {
    return NotFound("data directory " + data_dir +
                    " was not fully initialised (run: custvault init --data-dir " + data_dir + ")");
  }
  vault->bootstrap_token_hash_ = *token_hash;
  ASSIGN_OR_RETURN(std::vector<store::StoredKey> keys, vault->store_->ListKeys());
  for (const store::StoredKey& key : keys) {
    RETURN_IF_ERROR(vault->keyring_->LoadDomainKey({key.purpose, key.version, key.wrapped}));
  }
  vault->customers_ = std::make_unique<CustomerService>(env, config, *vault->catalog_,
                                                        *vault->keyring_, *vault->store_);
  return vault;
}

Result<Actor> Vault::AuthenticateBootstrapToken(std::string_view token,
                                                const std::string& ip) const {
  if (token.size() > 256 || !crypto::ConstantTimeEqual(TokenHash(token), bootstrap_token_hash_)) {
    return Unauthenticated("invalid or missing bearer token");
  }
  Actor actor;
  actor.kind = ActorKind::kBootstrap;
  actor.id = "bootstrap";
  actor.ip = ip;
  return actor;
}

}  // namespace custvault::service
