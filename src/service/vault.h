// Vault: one data directory brought to life. `custvault init` creates it;
// `serve`, the CLI commands, the tests and the benchmarks open it. Owns the
// config, catalog, keyring, store and services, in dependency order.
//
// A data directory holds custvault.toml, master.key (0600), the database,
// and until it is read, initial-credentials (0600).
#pragma once

#include <memory>
#include <string>

#include "catalog/catalog.h"
#include "common/config.h"
#include "common/env.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "service/actor.h"
#include "service/customer_service.h"
#include "store/store.h"

namespace custvault::service {

inline constexpr char kConfigFileName[] = "custvault.toml";
inline constexpr char kInitialCredentialsFileName[] = "initial-credentials";
inline constexpr size_t kBootstrapTokenBytes = 32;

struct InitResult {
  std::string bootstrap_token;  // shown once; only its hash is stored
  std::string credentials_path;
};

// Creates the data directory (0700), the default config (unless one is
// there already: an operator may prepare it), the master key, the database
// with its domain keys, and a random bootstrap token written to
// initial-credentials (0600). kConflict if the directory is initialised.
Result<InitResult> InitDataDirectory(Env* env, const std::string& data_dir,
                                     const std::map<std::string, std::string>& environment);

class Vault {
 public:
  // Opens an initialised data directory; kNotFound with a hint to run
  // `custvault init` when it is not.
  static Result<std::unique_ptr<Vault>> Open(Env* env, const std::string& data_dir,
                                             const std::map<std::string, std::string>& environment);

  const Config& config() const { return config_; }
  const catalog::Catalog& catalog() const { return *catalog_; }
  store::Store& store() { return *store_; }
  CustomerService& customers() { return *customers_; }

  // Checks a bearer token against the bootstrap token's stored hash in
  // constant time. kUnauthenticated on mismatch.
  Result<Actor> AuthenticateBootstrapToken(std::string_view token, const std::string& ip) const;

 private:
  Vault() = default;
  Config config_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<crypto::Keyring> keyring_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<CustomerService> customers_;
  std::string bootstrap_token_hash_;
};

}  // namespace custvault::service
