// Vault: one data directory brought to life. `custvault init` creates it;
// `serve`, the CLI commands, the tests and the benchmarks open it. Owns the
// config, catalog, keyring, stores, audit log and services, in dependency
// order (members are destroyed in reverse).
//
// A data directory holds custvault.toml, master.key (0600), custvault.db
// (customers, accounts), audit.db (the hash-chained audit log), and until
// the three initial accounts have changed their one-time passwords,
// initial-credentials (0600). With the outbox SMS gateway (the default),
// sms-outbox.jsonl (0600) holds the self-service messages: phone numbers
// and one-time codes in plain (docs/self-service.md).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/config.h"
#include "common/env.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "jobs/scheduler.h"
#include "service/account_service.h"
#include "service/actor.h"
#include "service/approval_service.h"
#include "service/sensitive_edit.h"
#include "service/tag_service.h"
#include "service/audit_service.h"
#include "service/backup_ops.h"
#include "service/backup_service.h"
#include "service/business_service.h"
#include "service/customer_service.h"
#include "service/jobs_service.h"
#include "service/self_service.h"
#include "store/approval_store.h"
#include "store/tag_store.h"
#include "store/business_store.h"
#include "store/identity_store.h"
#include "store/search_budget_store.h"
#include "store/self_service_store.h"
#include "store/store.h"

namespace custvault::service {

inline constexpr char kConfigFileName[] = "custvault.toml";
inline constexpr char kInitialCredentialsFileName[] = "initial-credentials";

struct InitResult {
  std::vector<InitialCredential> credentials;  // one-time passwords, shown once
  std::string credentials_path;
};

// Creates the data directory (0700), the default config (unless one is
// there already: an operator may prepare it), the master key, the
// databases with their domain keys, and the three initial accounts (admin,
// security, auditor) with one-time passwords written to
// initial-credentials (0600). kConflict if the directory is initialised.
Result<InitResult> InitDataDirectory(Env* env, const std::string& data_dir,
                                     const std::map<std::string, std::string>& environment);

// Security events of the account service go into the audit log.
class AuditEventSink final : public SecurityEventSink {
 public:
  explicit AuditEventSink(AuditService& audit) : audit_(audit) {}
  Status Record(const SecurityEvent& event) override;

 private:
  AuditService& audit_;
};

class Vault {
 public:
  // Opens an initialised data directory; kNotFound with a hint to run
  // `custvault init` when it is not.
  static Result<std::unique_ptr<Vault>> Open(Env* env, const std::string& data_dir,
                                             const std::map<std::string, std::string>& environment);
  ~Vault();  // Close()

  // Stops the scheduler (a running job finishes first) and continuous
  // shipping (one last round), ends the services, and closes the audit log
  // with a shutdown checkpoint; returns that close's status. Idempotent.
  Status Close();

  const Config& config() const { return config_; }
  const catalog::Catalog& catalog() const { return *catalog_; }
  store::Store& store() { return *store_; }
  CustomerService& customers() { return *customers_; }
  AccountService& accounts() { return *accounts_; }
  AuditService& audit() { return *audit_; }
  BusinessService& business() { return *business_; }
  store::BusinessStore& business_store() { return *business_store_; }
  ApprovalService& approvals() { return *approvals_; }
  TagService& tags() { return *tags_; }
  SelfServiceService& self_service() { return *self_service_; }
  const crypto::Keyring& keyring() const { return *keyring_; }
  // The timed jobs (jobs/scheduler.h). Built right after the store opens,
  // never started by Open: `custvault serve` starts it when jobs.enabled.
  jobs::Scheduler& scheduler() { return *scheduler_; }
  // Off-site copy, retention, continuous shipping, restore tests (backup
  // operations; the backup core hands its format over with SetCore).
  BackupOperations& backup_ops() { return *backup_ops_; }
  JobsService& jobs() { return *jobs_; }
  // Backups, verification and online restores (the backup core, R-BAK).
  BackupService& backups() { return *backups_; }

  // Adds a timed job whose schedule is the config key jobs.<name> (e.g.
  // AddScheduledJob("reclassify", config().jobs.reclassify, ...)); a bad
  // schedule names that key. Only before the scheduler starts (in Open).
  Status AddScheduledJob(const std::string& name, const std::string& schedule_text,
                         std::function<Status()> run);

  // Called after a password change: removes initial-credentials once all
  // three initial accounts have replaced their one-time passwords.
  void ForgetInitialCredentialsWhenAllChanged();

 private:
  Vault() = default;
  Env* env_ = nullptr;
  Config config_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::unique_ptr<crypto::Keyring> keyring_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<jobs::Scheduler> scheduler_;  // stopped first in ~Vault
  std::unique_ptr<store::IdentityStore> identity_store_;
  std::unique_ptr<AuditService> audit_;
  std::unique_ptr<AuditEventSink> audit_sink_;
  std::unique_ptr<AccountService> accounts_;
  std::unique_ptr<JobsService> jobs_;
  std::unique_ptr<BackupOperations> backup_ops_;  // reset right after the scheduler stops
  std::unique_ptr<store::ApprovalStore> approval_store_;
  std::unique_ptr<ApprovalService> approvals_;
  std::unique_ptr<BackupService> backups_;  // uses approvals_; reset before it
  std::unique_ptr<store::TagStore> tag_store_;
  std::unique_ptr<TagService> tags_;
  std::unique_ptr<SensitiveEditHandler> sensitive_edits_;
  std::unique_ptr<store::SearchBudgetStore> search_budget_store_;
  std::unique_ptr<SearchGuard> search_guard_;  // used by customers_
  std::unique_ptr<CustomerService> customers_;
  std::unique_ptr<store::BusinessStore> business_store_;
  std::unique_ptr<BusinessService> business_;
  std::unique_ptr<store::SelfServiceStore> self_service_store_;
  std::unique_ptr<SelfServiceService> self_service_;
};

}  // namespace custvault::service
