#include "service/vault.h"

#include <sstream>

#include "audit/entry.h"
#include "common/encoding.h"
#include "store/shred_ledger.h"
#include "common/log.h"
#include "service/sensitive_edit.h"

namespace custvault::service {
namespace {

// Domain keys every data directory has (wrapped by the master key).
// "backup" seals each backup archive's key and MACs its manifest
// (docs/formats/backup-archive.md); a directory made before backups existed
// gains it at its next open.
constexpr const char* kDomainKeyPurposes[] = {"customer-kek", "blind-index", "audit", "backup"};

crypto::CryptoProfile ProfileOf(const Config& config) {
  return config.crypto.profile == "gm" ? crypto::CryptoProfile::kGm
                                       : crypto::CryptoProfile::kDefault;
}

// A schedule in [jobs] that does not parse stops the start with its key
// named, whether or not a job uses it yet.
Status CheckJobSchedules(const Config& config) {
  const std::pair<const char*, const std::string*> schedules[] = {
      {"jobs.reclassify", &config.jobs.reclassify},
      {"jobs.backup_incremental", &config.jobs.backup_incremental},
      {"jobs.backup_full", &config.jobs.backup_full},
      {"jobs.restore_test", &config.jobs.restore_test},
  };
  for (const auto& [key, text] : schedules) {
    Result<jobs::Schedule> schedule = jobs::ParseSchedule(*text);
    if (!schedule.ok()) {
      return InvalidArgument(std::string(key) + ": " + schedule.status().message());
    }
  }
  return Status::Ok();
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

// What a data directory holds (issues 11.6, 11.8): read before anything is
// written, so that init and open can say what is missing or unreadable
// instead of failing later, confusingly, after writing.
struct DataDirectoryState {
  bool has_config = false;
  std::vector<std::string> vault_files;  // databases present (custvault.db, audit.db)
  std::string master_key;                // its file name
  bool has_master_key = false;
};

// kNotFound when there is no config file; another error (with the system's
// reason) when the directory or its config cannot be read, e.g. a file in
// the place of the directory or of one of its parents, or no permission.
Result<DataDirectoryState> InspectDataDirectory(
    Env* env, const std::string& data_dir, const std::map<std::string, std::string>& environment) {
  DataDirectoryState state;
  Result<std::string> file = env->ReadFile(data_dir + "/" + kConfigFileName);
  if (!file.ok() && file.status().code() != ErrorCode::kNotFound) {
    return Status(file.status().code(), "cannot read the custvault data directory " + data_dir +
                                            ": " + file.status().message());
  }
  if (!file.ok() && env->FileExists(data_dir) && !env->FileExists(data_dir + "/.")) {
    return InvalidArgument("cannot read the custvault data directory " + data_dir +
                           ": it is not a directory");
  }
  state.has_config = file.ok();
  ASSIGN_OR_RETURN(const Config config,
                   ParseConfig(file.ok() ? *file : std::string(), data_dir, environment));
  state.master_key = config.crypto.master_key_file;
  state.has_master_key = env->FileExists(config.DataPath(config.crypto.master_key_file));
  for (const std::string& name :
       {config.storage.sqlite_file, std::string(store::kAuditDatabaseFileName)}) {
    if (env->FileExists(config.DataPath(name))) state.vault_files.push_back(name);
  }
  return state;
}

std::string Joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
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

Result<std::unique_ptr<store::Store>> OpenStore(Env* env, const Config& config) {
  store::SqliteOptions options;
  options.path = config.DataPath(config.storage.sqlite_file);
  options.readers = config.storage.sqlite_readers;
  options.busy_timeout_ms = config.storage.busy_timeout_ms;
  options.env = env;
  // Beside the master key: the shred ledger outlives the database (R-CRY-5).
  options.shred_ledger_path = config.DataPath(store::kShredLedgerFileName);
  // And in every backup location a restore reads (issue 10.2): a delete is
  // acknowledged only once each copy holds it (docs/backup.md).
  options.shred_ledger_copies.push_back(
      {"local backup location",
       config.DataPath(config.backup.local_dir) + "/" + store::kShredLedgerFileName,
       /*create_directory=*/true});
  if (!config.backup.offsite_dir.empty()) {
    options.shred_ledger_copies.push_back(
        {"off-site location",
         config.DataPath(config.backup.offsite_dir) + "/" + store::kShredLedgerFileName});
  }
  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store, store::OpenSqliteStore(options));
  RETURN_IF_ERROR(store->Migrate());
  return store;
}

// Loads every stored domain key; creates the ones a data directory must
// have and does not (a directory made by an older version gains them).
Status LoadDomainKeys(Env* env, crypto::Keyring& keyring, store::Store& store) {
  ASSIGN_OR_RETURN(std::vector<store::StoredKey> keys, store.ListKeys());
  for (const store::StoredKey& key : keys) {
    RETURN_IF_ERROR(keyring.LoadDomainKey({key.purpose, key.version, key.wrapped}));
  }
  for (const char* purpose : kDomainKeyPurposes) {
    if (keyring.HasDomainKey(purpose)) continue;
    ASSIGN_OR_RETURN(crypto::WrappedKey wrapped, keyring.CreateDomainKey(purpose, 1));
    RETURN_IF_ERROR(
        store.PutKey({wrapped.purpose, wrapped.version, wrapped.wrapped, env->NowMicros()}));
  }
  return Status::Ok();
}

std::string_view AuditOperationOf(const std::string& event_type) {
  static const std::map<std::string, std::string_view, std::less<>> kMap = {
      {kEventLogin, audit::op::kAuthLogin},
      {kEventLoginFailed, audit::op::kAuthLoginFailed},
      {kEventLockout, audit::op::kAuthLockout},
      {kEventLogout, audit::op::kAuthLogout},
      {kEventPasswordChanged, audit::op::kAuthPasswordChange},
      {kEventTotpEnrolled, audit::op::kAuthTotpEnrol},
      {kEventAccountCreated, audit::op::kAccountCreate},
      {kEventAccountDisabled, audit::op::kAccountDisable},
      {kEventAccountReviewed, audit::op::kAccountReview},
      {kEventIpAllowlistChanged, audit::op::kAccountIpAllowlist},
      {kEventRoleRequested, audit::op::kRoleGrantRequest},
      {kEventRoleApproved, audit::op::kApprovalDecide},
      {kEventRoleRejected, audit::op::kApprovalDecide},
      {kEventChannelRegistered, audit::op::kChannelRegister},
      {kEventChannelKeyRotated, audit::op::kChannelRotateKey},
      {kEventChannelRevoked, audit::op::kChannelRevoke},
      {kEventRejectedToken, audit::op::kAuthRejectedToken},
      {kEventLoginRefused, audit::op::kAuthLoginRefused},
      {kEventAccessDenied, audit::op::kAccessDenied},
  };
  const auto found = kMap.find(event_type);
  return found == kMap.end() ? std::string_view() : found->second;
}

}  // namespace

Status AuditEventSink::Record(const SecurityEvent& event) {
  const std::string_view operation = AuditOperationOf(event.type);
  if (operation.empty()) return Internal("security event without an audit operation");
  audit::AuditEvent entry;
  entry.actor_id = event.actor_id.empty() ? "anonymous" : event.actor_id;
  entry.actor_role = event.actor_role;
  entry.source_ip = event.ip;
  entry.operation = std::string(operation);
  entry.customer_id = event.customer_id;
  entry.result = std::string(event.success                      ? audit::result::kOk
                             : event.type == kEventAccessDenied ? audit::result::kDenied
                                                                : audit::result::kFailed);
  if (!event.target.empty()) entry.details["target"] = event.target;
  if (!event.reason.empty()) entry.details["reason"] = event.reason;
  if (event.type == kEventRoleApproved || event.type == kEventRoleRejected) {
    entry.details["decision"] = event.type == kEventRoleApproved ? "approved" : "rejected";
    entry.details["kind"] = "role_grant";
  }
  Result<int64_t> seq = audit_.log().Append(entry);
  return seq.ok() ? Status::Ok() : seq.status();
}

Result<InitResult> InitDataDirectory(Env* env, const std::string& data_dir,
                                     const std::map<std::string, std::string>& environment) {
  // Refuse a directory holding part of a vault before writing anything
  // (issue 11.6): a new master key beside an existing database opens
  // nothing, and a default config beside one may not be its config.
  ASSIGN_OR_RETURN(const DataDirectoryState state,
                   InspectDataDirectory(env, data_dir, environment));
  if (!state.vault_files.empty() && !state.has_master_key) {
    return Conflict("data directory " + data_dir + " holds a vault (" + Joined(state.vault_files) +
                    ") but its master key " + state.master_key +
                    " is missing: put the master key back from its safe copy; init writes "
                    "nothing here (a new key would open nothing)");
  }
  if (!state.vault_files.empty() && !state.has_config) {
    return Conflict("data directory " + data_dir + " holds a vault (" + Joined(state.vault_files) +
                    ") but its configuration " + kConfigFileName +
                    " is missing: restore it (a backup holds it); init writes nothing here");
  }
  RETURN_IF_ERROR(env->CreateDirectories(data_dir, 0700));
  const std::string config_path = data_dir + "/" + kConfigFileName;
  if (!env->FileExists(config_path)) {
    RETURN_IF_ERROR(env->WriteFileAtomic(config_path, DefaultConfigToml(), 0600, true));
  }
  ASSIGN_OR_RETURN(const Config config, LoadConfig(env, data_dir, environment));
  // Validate the catalog settings now rather than at the first serve.
  ASSIGN_OR_RETURN(std::unique_ptr<catalog::Catalog> catalog, LoadCatalog(env, config));
  ASSIGN_OR_RETURN(std::unique_ptr<crypto::Keyring> keyring,
                   crypto::Keyring::Open(env, config.DataPath(config.crypto.master_key_file),
                                         ProfileOf(config), /*create_if_missing=*/true));
  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store, OpenStore(env, config));
  RETURN_IF_ERROR(LoadDomainKeys(env, *keyring, *store));
  ASSIGN_OR_RETURN(std::unique_ptr<store::IdentityStore> identity,
                   store::OpenSqliteIdentityStore(*store));
  ASSIGN_OR_RETURN(std::unique_ptr<AuditService> audit,
                   AuditService::Open(env, config, keyring.get()));
  AuditEventSink sink(*audit);
  ASSIGN_OR_RETURN(std::unique_ptr<AccountService> accounts,
                   AccountService::Create(env, config, *keyring, *store, *identity, sink));
  Result<std::vector<InitialCredential>> created = accounts->CreateInitialAccounts();
  if (!created.ok()) {
    if (created.status().code() == ErrorCode::kConflict) {
      return Conflict("data directory is already initialised: " + data_dir);
    }
    return created.status();
  }
  InitResult result;
  result.credentials = std::move(*created);
  result.credentials_path = data_dir + "/" + kInitialCredentialsFileName;
  std::ostringstream text;
  text << "# custvault initial accounts. One-time passwords: each must be changed at first\n"
       << "# login (POST /api/v1/auth/login, then /api/v1/auth/password). This file is\n"
       << "# removed once all three have changed theirs.\n";
  for (const InitialCredential& c : result.credentials) {
    text << c.username << " " << RoleName(c.role) << " " << c.password << "\n";
  }
  RETURN_IF_ERROR(env->WriteFileAtomic(result.credentials_path, text.str(), 0600, false));
  RETURN_IF_ERROR(audit->log().Close());
  return result;
}

Vault::~Vault() { Close().IgnoreError(); }

Status Vault::Close() {
  // No timed job may run while the services it uses go away.
  if (scheduler_) scheduler_->Stop();
  backup_ops_.reset();  // stops shipping (a last round) while the audit log is open
  // The services go first (they use the audit log and the stores); then the
  // audit log closes with a shutdown checkpoint.
  self_service_.reset();  // sends what is queued first
  if (business_) business_->SetRecordsChangedHook(nullptr);
  tags_.reset();
  business_.reset();
  customers_.reset();
  backups_.reset();
  approvals_.reset();
  // Open refusal summaries (auth.rejected_token, auth.login_refused) are
  // written now rather than lost with the process.
  if (accounts_) accounts_->FlushRefusalSummaries(/*all=*/true);
  accounts_.reset();
  return audit_ ? audit_->log().Close() : Status::Ok();
}

Result<std::unique_ptr<Vault>> Vault::Open(Env* env, const std::string& data_dir,
                                           const std::map<std::string, std::string>& environment) {
  // Unreadable is not absent (issue 11.8); a vault without its config or
  // master key says which is missing (issue 11.6).
  ASSIGN_OR_RETURN(const DataDirectoryState state,
                   InspectDataDirectory(env, data_dir, environment));
  if (!state.has_config && !state.vault_files.empty()) {
    return NotFound("data directory " + data_dir + " holds a vault (" + Joined(state.vault_files) +
                    ") but its configuration " + kConfigFileName +
                    " is missing: restore it (a backup holds it)");
  }
  if (!state.has_config) {
    return NotFound("no custvault data directory at " + data_dir +
                    " (run: custvault init --data-dir " + data_dir + ")");
  }
  if (!state.has_master_key) {
    return NotFound("the master key " + state.master_key + " is missing from data directory " +
                    data_dir + ": put it back from its safe copy (custvault init never "
                    "replaces it)");
  }
  std::unique_ptr<Vault> vault(new Vault());
  vault->env_ = env;
  ASSIGN_OR_RETURN(vault->config_, LoadConfig(env, data_dir, environment));
  ASSIGN_OR_RETURN(vault->catalog_, LoadCatalog(env, vault->config_));
  const Config& config = vault->config_;
  ASSIGN_OR_RETURN(vault->keyring_,
                   crypto::Keyring::Open(env, config.DataPath(config.crypto.master_key_file),
                                         ProfileOf(config), /*create_if_missing=*/false));
  ASSIGN_OR_RETURN(vault->store_, OpenStore(env, config));
  // The scheduler exists from here on, so each service can register its
  // timed job (AddScheduledJob) right where it is created below.
  RETURN_IF_ERROR(CheckJobSchedules(config));
  vault->scheduler_ =
      std::make_unique<jobs::Scheduler>(env, *vault->store_, config.utc_offset_seconds);
  RETURN_IF_ERROR(LoadDomainKeys(env, *vault->keyring_, *vault->store_));
  ASSIGN_OR_RETURN(vault->identity_store_, store::OpenSqliteIdentityStore(*vault->store_));
  ASSIGN_OR_RETURN(vault->audit_, AuditService::Open(env, config, vault->keyring_.get()));
  // R-AUD-6: entries a crash left in the audit outbox (their changes
  // committed, they not yet chained) are chained before anything is served.
  RETURN_IF_ERROR(vault->audit_->RecoverAuditOutbox(*vault->store_).status());
  vault->audit_sink_ = std::make_unique<AuditEventSink>(*vault->audit_);
  ASSIGN_OR_RETURN(vault->accounts_,
                   AccountService::Create(env, config, *vault->keyring_, *vault->store_,
                                          *vault->identity_store_, *vault->audit_sink_));
  vault->jobs_ =
      std::make_unique<JobsService>(*vault->scheduler_, *vault->accounts_, *vault->audit_);
  // Backup operations and their timed jobs (R-BAK-1, R-BAK-2, R-BAK-2a).
  vault->backup_ops_ = std::make_unique<BackupOperations>(
      env, config, *vault->catalog_, *vault->keyring_, *vault->store_, *vault->accounts_,
      *vault->audit_);
  BackupOperations* backup_ops = vault->backup_ops_.get();
  RETURN_IF_ERROR(vault->AddScheduledJob(kJobBackupIncremental, config.jobs.backup_incremental,
                                         [backup_ops] { return backup_ops->RunBackupJob(false); }));
  RETURN_IF_ERROR(vault->AddScheduledJob(kJobBackupFull, config.jobs.backup_full,
                                         [backup_ops] { return backup_ops->RunBackupJob(true); }));
  RETURN_IF_ERROR(vault->AddScheduledJob(kJobRestoreTest, config.jobs.restore_test,
                                         [backup_ops] { return backup_ops->RunRestoreTestJob(); }));
  Result<AccountView> admin = vault->accounts_->FindAccountByUsername(kInitialSysAdminUsername);
  if (!admin.ok() && admin.status().code() == ErrorCode::kNotFound) {
    return NotFound("data directory " + data_dir +
                    " was not fully initialised (run: custvault init --data-dir " + data_dir + ")");
  }
  if (!admin.ok()) return admin.status();
  Vault* raw = vault.get();
  vault->accounts_->SetPasswordChangedHook(
      [raw] { raw->ForgetInitialCredentialsWhenAllChanged(); });
  ASSIGN_OR_RETURN(vault->approval_store_, store::OpenSqliteApprovalStore(*vault->store_));
  vault->approvals_ = std::make_unique<ApprovalService>(env, config, *vault->approval_store_,
                                                        *vault->identity_store_,
                                                        *vault->accounts_, *vault->audit_);
  vault->customers_ =
      std::make_unique<CustomerService>(env, config, *vault->catalog_, *vault->keyring_,
                                        *vault->store_, *vault->accounts_, *vault->audit_);
  // The search budget of each account (issue 10.1): in the database, so a
  // lock holds across restarts and processes.
  ASSIGN_OR_RETURN(vault->search_budget_store_,
                   store::OpenSqliteSearchBudgetStore(*vault->store_));
  vault->search_guard_ =
      std::make_unique<SearchGuard>(env, config.search, *vault->search_budget_store_);
  vault->customers_->SetSearchGuard(vault->search_guard_.get());
  ASSIGN_OR_RETURN(vault->business_store_, store::OpenSqliteBusinessStore(*vault->store_));
  vault->business_ = std::make_unique<BusinessService>(env, config, *vault->keyring_,
                                                       *vault->store_, *vault->business_store_,
                                                       *vault->accounts_, *vault->audit_);
  // Tags and the approvals that change them (R-TAG-1/3/4, R-APR-1).
  ASSIGN_OR_RETURN(vault->tag_store_, store::OpenSqliteTagStore(*vault->store_));
  ASSIGN_OR_RETURN(vault->tags_,
                   TagService::Open(env, config, *vault->catalog_, *vault->keyring_,
                                    *vault->store_, *vault->tag_store_, *vault->business_store_,
                                    *vault->approvals_, *vault->accounts_, *vault->audit_));
  TagService* tags = vault->tags_.get();
  vault->customers_->SetInitialTagger(
      [tags](const std::map<std::string, std::string>& values) { return tags->InitialTags(values); });
  vault->sensitive_edits_ =
      std::make_unique<SensitiveEditHandler>(env, *vault->store_, *vault->audit_);
  vault->approvals_->RegisterHandler(policy::ApprovalKind::kSensitiveEdit,
                                     vault->sensitive_edits_.get());
  vault->customers_->SetSensitiveEditFiler(MakeSensitiveEditFiler(*vault->approvals_, *vault->store_));
  // The quarterly re-classification (R-TAG-3): filed by the job, decided
  // by a department head.
  RETURN_IF_ERROR(vault->AddScheduledJob("reclassify", config.jobs.reclassify, [tags]() {
    return tags->Reclassify(ApprovalService::JobActor("reclassify"), {}).status();
  }));
  // Tags follow the data: a change of business records files the tag
  // change it causes for approval (docs/tags.md).
  auto recompute = [tags](const std::string& customer_id) {
    Result<std::optional<ApprovalView>> filed = tags->RecomputeCustomer(customer_id);
    if (!filed.ok()) {
      spdlog::warn("tags of customer {} not recomputed: {}", customer_id,
                   filed.status().ToString());
    }
  };
  vault->business_->SetRecordsChangedHook(recompute);
  vault->sensitive_edits_->SetAppliedHook(recompute);
  ASSIGN_OR_RETURN(vault->self_service_store_,
                   store::OpenSqliteSelfServiceStore(*vault->store_));
  // sms.gateway = "http": the HTTP layer installs its gateway (no network
  // code in service/); until then messages are refused, not lost silently.
  std::unique_ptr<SmsGateway> gateway;
  if (config.sms.gateway == "outbox") {
    gateway = std::make_unique<OutboxSmsGateway>(env, config.DataPath(config.sms.outbox_file));
  }
  ASSIGN_OR_RETURN(vault->self_service_,
                   SelfServiceService::Create(env, config, *vault->catalog_, *vault->keyring_,
                                              *vault->store_, *vault->self_service_store_,
                                              *vault->customers_, *vault->audit_,
                                              std::move(gateway)));
  // R-SELF-1: "related tags are recomputed after the change" (filed as a
  // tag_change approval like any other recomputation).
  vault->self_service_->SetContactChangedHook(recompute);
  // Backups (R-BAK-1..3): the online restore's approval handler, and the
  // backups the timed jobs take through the operations.
  vault->backups_ = std::make_unique<BackupService>(env, config, *vault->keyring_, *vault->store_,
                                                    *vault->accounts_, *vault->audit_,
                                                    *vault->approvals_);
  vault->approvals_->RegisterHandler(policy::ApprovalKind::kRestore,
                                     vault->backups_->restore_handler());
  vault->backup_ops_->SetCore(vault->backups_->Core());
  // Last, once every approval handler is registered: finish approvals a
  // crash left half-applied, and close filings it interrupted.
  RETURN_IF_ERROR(vault->approvals_->FinishInterrupted());
  return vault;
}

Status Vault::AddScheduledJob(const std::string& name, const std::string& schedule_text,
                              std::function<Status()> run) {
  Result<jobs::Schedule> schedule = jobs::ParseSchedule(schedule_text);
  if (!schedule.ok()) return InvalidArgument("jobs." + name + ": " + schedule.status().message());
  return scheduler_->Add(name, *schedule, std::move(run));
}

void Vault::ForgetInitialCredentialsWhenAllChanged() {
  Result<bool> all_changed = accounts_->InitialPasswordsAllChanged();
  if (all_changed.ok() && *all_changed) {
    env_->RemoveFile(config_.data_dir + "/" + kInitialCredentialsFileName).IgnoreError();
  }
}

}  // namespace custvault::service
