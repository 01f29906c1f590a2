// CustomerService: the customer use cases (create, get, search, list,
// update, delete, bulk import), shared by the HTTP API and the CLI.
//
// Plaintext exists only inside this class, in crypto::SecretBytes or in
// short-lived strings that are wiped after encryption; what leaves it is a
// CustomerView with masked values. Thread safety: every method may be
// called from many threads at once.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/config.h"
#include "common/env.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "service/account_service.h"
#include "service/actor.h"
#include "service/audit_service.h"
#include "service/search_guard.h"
#include "store/store.h"

namespace custvault::service {

// A customer as the caller may see it: masked values only; fields whose
// mask rule is "never" are absent.
struct CustomerView {
  std::string id;
  std::map<std::string, std::string> fields;  // field key -> masked value
  std::map<std::string, std::string> tags;
  std::string channel;
  int64_t created_at_us = 0;
  int64_t updated_at_us = 0;
  // Set when an update was filed for approval instead of applied (a
  // sensitive edit by an information manager, R-APR-1): the approval's id.
  // The other members then show the customer as it still is.
  std::string pending_approval_id;
};

struct CustomerListPage {
  std::vector<CustomerView> items;
  std::optional<std::string> next_cursor;
};

// Field key -> value, as received or normalised.
using FieldValues = std::map<std::string, std::string>;

// A field's new value, or std::nullopt to remove the field.
using FieldChanges = std::map<std::string, std::optional<std::string>>;

struct ImportOptions {
  int batch_size = 5000;  // rows per store transaction (5,000: +80 % over 1,000 at 200k rows)
  int seal_threads = 2;   // threads encrypting a batch while the previous one is written
  // Called after each batch is handed to the store: (rows read, rows total).
  std::function<void(int64_t, int64_t)> progress;
};

struct ImportOutcome {
  int64_t imported = 0;
  // Row number (0-based) -> why it was refused; such rows are not written.
  std::map<int64_t, Status> refused;
};

// Plaintext of revealed fields, for the one response that shows it.
// Biometric templates are never revealed in full: their entry is a
// fingerprint ("sm3:<16 hex> (<n> bytes)").
struct RevealedFields {
  std::string id;
  std::map<std::string, crypto::SecretBytes> fields;
};

// The tags a new customer gets (R-TAG-1), from its validated, normalised
// values; set by Vault to TagService::InitialTags. Called from several
// threads at once during an import.
using InitialTagger =
    std::function<std::map<std::string, std::string>(const std::map<std::string, std::string>&)>;
// Files a sealed update (values already encrypted with the customer's key,
// blind indexes computed) as a sensitive_edit approval; returns its id.
// Set by Vault (service/sensitive_edit.h).
using SensitiveEditFiler = std::function<Result<std::string>(
    const Actor& maker, const store::CustomerUpdate& sealed, const std::string& summary)>;

inline constexpr size_t kRevealReasonBytesMax = 200;
inline constexpr size_t kRevealFieldsMax = 32;
inline constexpr size_t kSearchUnlockReasonBytesMax = 200;

// Every public method first asks the policy (through AccountService::Authorize:
// 403 and an access.denied audit entry when the role may not), works per
// field class (a field the role may not see is absent, one it may not edit
// is refused), and appends its audit entry before it returns: when the
// entry cannot be made durable the call fails (no audit, no access).
class CustomerService {
 public:
  // All references must outlive the service.
  CustomerService(Env* env, const Config& config, const catalog::Catalog& catalog,
                  const crypto::Keyring& keyring, store::Store& store, AccountService& accounts,
                  AuditRecorder& audit);

  // Validates every field (all errors at once, 422, nothing written),
  // encrypts, indexes and stores; retries the random id on collision.
  Result<CustomerView> Create(const Actor& actor, const std::map<std::string, std::string>& input);
  Result<CustomerView> Get(const Actor& actor, const std::string& id);
  // Exact search on a searchable field through its blind index. Each
  // search is charged to the account's search budget (SearchGuard, issue
  // 10.1): kRateLimited with *retry_after_seconds set when it is spent,
  // kLocked when the account's search is locked. Audited with the field
  // name and the hit count, never the value.
  Result<CustomerListPage> Search(const Actor& actor, const std::string& field_key,
                                  const std::string& value,
                                  const std::optional<std::string>& cursor,
                                  std::optional<int> limit, int* retry_after_seconds = nullptr);
  // Clears an account's search lock (policy search.unlock; audited as
  // search.unlock with the reason). kNotFound when it is not locked.
  Status ClearSearchLock(const Actor& actor, const std::string& account_id,
                         const std::string& reason);
  // The accounts whose search is locked (policy search.unlock).
  Result<std::vector<store::SearchBudgetRow>> SearchLocks(const Actor& actor);
  // tag: "dimension:value" or empty.
  Result<CustomerListPage> List(const Actor& actor, const std::string& tag,
                                const std::optional<std::string>& cursor, std::optional<int> limit);
  Result<CustomerView> Update(const Actor& actor, const std::string& id,
                              const FieldChanges& changes);
  // Customer self-service (R-SELF-1): the customer, who proved who they
  // are to SelfServiceService, changes their own contact fields. Only an
  // actor of kind kSelfService, only the fields in kSelfServiceFields,
  // only set (never removed); no policy check (the proof is the one-time
  // code, checked by the caller). Validated, encrypted and indexed exactly
  // as Update does; audited as self_service.update with masked before and
  // after values. The view holds only those fields, masked.
  Result<CustomerView> UpdateContactBySelfService(const Actor& actor, const std::string& id,
                                                  const FieldChanges& changes);
  // Crypto-shreds the customer: its data key is destroyed with the row.
  Status Delete(const Actor& actor, const std::string& id);
  // Plaintext of the named fields for a stated reason (R-MASK-1): allowed
  // per role and field class, rate-limited per account, audited with the
  // field names and the reason.
  Result<RevealedFields> Reveal(const Actor& actor, const std::string& id,
                                const std::vector<std::string>& fields, const std::string& reason);
  // Validates every row and writes the valid ones in batches, one
  // transaction per batch; invalid rows are reported, not written.
  Result<ImportOutcome> Import(const Actor& actor, const std::vector<FieldValues>& rows,
                               const ImportOptions& options = {});

  // "C" + YYYYMMDD (local date) + 6 random digits.
  Result<std::string> NewCustomerId();

  // Set once, before the service is shared (Vault). Without a tagger new
  // customers have no tags; without a filer, a change the role may make
  // only with approval is refused (403, reason "approval_required") rather
  // than filed.
  void SetInitialTagger(InitialTagger tagger) { initial_tagger_ = std::move(tagger); }
  void SetSensitiveEditFiler(SensitiveEditFiler filer) {
    sensitive_edit_filer_ = std::move(filer);
  }
  // The search budget (Vault always sets one; without it searches are
  // refused, so no search can ever run unbudgeted). Must outlive the service.
  void SetSearchGuard(SearchGuard* guard) { search_guard_ = guard; }

 private:
  // Encrypts validated values into a record with a fresh customer key.
  Result<store::CustomerRecord> SealNewRecord(const Actor& actor, const std::string& id,
                                              const std::map<std::string, std::string>& values);
  // Decrypts and masks the fields the actor's role may see (only those in
  // `only`, when given: the audit of an update needs just the changed ones).
  Result<CustomerView> ToView(const Actor& actor, const store::CustomerRecord& record,
                              const std::set<std::string>* only = nullptr);
  // Update after its checks: validates, encrypts, indexes, stores and
  // audits the change as `operation`. With `file_for_approval` the sealed
  // change is filed through sensitive_edit_filer_ instead of stored.
  Result<CustomerView> ApplyUpdate(const Actor& actor, const std::string& id,
                                   const FieldChanges& changes, std::string_view operation,
                                   bool file_for_approval = false);
  // Whether the actor may see the field at all (masked or better).
  bool MaySee(const Actor& actor, const catalog::FieldDef& field) const;
  // Refuses (403, audited) fields the actor's role may not supply or change.
  // When creating, fields the role may change only with approval may be
  // supplied (there is no earlier value to protect); so may they when
  // `approval_follows` (the change is filed for approval, not applied).
  // `customer_id` is the customer changed ("" when creating), recorded
  // with a refusal.
  Status CheckEditable(const Actor& actor, const std::vector<std::string>& field_keys,
                       std::string_view operation, bool creating,
                       bool approval_follows = false, std::string_view customer_id = {});
  // Appends one audit entry and waits until it is durable.
  Status Audit(const Actor& actor, std::string_view operation, std::string_view customer_id,
               std::string_view result, boost::json::object details = {});
  Result<int> PageLimit(std::optional<int> limit) const;
  Result<CustomerListPage> PageView(const Actor& actor, const store::CustomerPage& page);
  struct ImportBatch;
  // Draws ids for every row of the batch that are neither in the store nor
  // drawn twice nor used by the batch still being written (checked in bulk,
  // redrawing only the colliding ones).
  Status DrawBatchIds(ImportBatch& batch, const ImportBatch* in_flight);
  Status SealBatch(const Actor& actor, ImportBatch& batch, int threads);
  Status WriteBatch(const Actor& actor, ImportBatch& batch);
  // The local calendar year: no resident ID may be born after it.
  int CurrentYear() const;

  Env* env_;
  const Config& config_;
  const catalog::Catalog& catalog_;
  const crypto::Keyring& keyring_;
  store::Store& store_;
  AccountService& accounts_;
  AuditRecorder& audit_;
  InitialTagger initial_tagger_;
  SensitiveEditFiler sensitive_edit_filer_;
  SearchGuard* search_guard_ = nullptr;
};

// The contact fields a customer may change through self-service (R-SELF-1).
inline constexpr std::string_view kSelfServiceFields[] = {"phone", "address"};

// Maximum id attempts before a create gives up with kUnavailable.
inline constexpr int kCustomerIdAttemptsMax = 16;

}  // namespace custvault::service
