#include "service/customer_service.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <future>
#include <set>

#include "audit/entry.h"
#include "common/encoding.h"
#include "crypto/hash.h"
#include "policy/policy.h"

namespace custvault::service {
namespace {

// Overwrites plaintext held in ordinary strings once it has been encrypted.
void WipeValues(std::map<std::string, std::string>& values) {
  for (auto& [key, value] : values) {
    if (!value.empty()) OPENSSL_cleanse(value.data(), value.size());
    value.clear();
  }
}

crypto::AeadAlgorithm AlgorithmFor(catalog::Protection protection) {
  return protection == catalog::Protection::kSm4Gcm ? crypto::AeadAlgorithm::kSm4Gcm
                                                    : crypto::AeadAlgorithm::kAes256Gcm;
}

Result<std::pair<std::string, std::string>> ParseTagFilter(const std::string& tag) {
  const size_t colon = tag.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == tag.size() || tag.size() > 128) {
    return InvalidArgument("tag filter must be dimension:value");
  }
  return std::make_pair(tag.substr(0, colon), tag.substr(colon + 1));
}

}  // namespace

CustomerService::CustomerService(Env* env, const Config& config, const catalog::Catalog& catalog,
                                 const crypto::Keyring& keyring, store::Store& store,
                                 AccountService& accounts, AuditRecorder& audit)
    : env_(env),
      config_(config),
      catalog_(catalog),
      keyring_(keyring),
      store_(store),
      accounts_(accounts),
      audit_(audit) {}

Status CustomerService::Audit(const Actor& actor, std::string_view operation,
                              std::string_view customer_id, std::string_view result,
                              boost::json::object details) {
  Result<int64_t> seq = audit_.Record(actor, operation, customer_id, result, std::move(details));
  if (!seq.ok()) {
    // No audit, no access: the caller's operation fails with this.
    return Unavailable("the audit log could not record the operation; try again");
  }
  return Status::Ok();
}

Status CustomerService::CheckEditable(const Actor& actor,
                                      const std::vector<std::string>& field_keys,
                                      std::string_view operation, bool creating,
                                      bool approval_follows, std::string_view customer_id) {
  std::vector<FieldError> refused;
  for (const std::string& key : field_keys) {
    const catalog::FieldDef* field = catalog_.Find(key);
    if (field == nullptr) continue;  // the catalog's validation names unknown fields
    const policy::FieldEdit edit = policy::EditAccess(actor.role, field->field_class);
    if (edit == policy::FieldEdit::kEdit) continue;
    // Collecting a new customer is not changing one: the maker-checker of
    // sensitive edits guards values that exist.
    if (creating && edit == policy::FieldEdit::kEditWithApproval) continue;
    if (approval_follows && edit == policy::FieldEdit::kEditWithApproval) continue;
    refused.push_back(
        {key, edit == policy::FieldEdit::kEditWithApproval ? "approval_required" : "not_allowed"});
  }
  if (refused.empty()) return Status::Ok();
  boost::json::array names;
  for (const FieldError& e : refused) names.push_back(boost::json::string(e.field));
  Audit(actor, audit::op::kAccessDenied, customer_id, audit::result::kDenied,
        {{"attempted", operation}, {"fields", std::move(names)}})
      .IgnoreError();  // the refusal stands whether or not it was recorded
  return Status(ErrorCode::kPermissionDenied,
                "this role may not supply or change some of these fields", std::move(refused));
}

Result<std::string> CustomerService::NewCustomerId() {
  // 4,294,000,000 is the largest multiple of 10^6 below 2^32: rejecting
  // values above it keeps the 6 digits uniform.
  constexpr uint32_t kUniformBound = 4'294'000'000u;
  uint32_t n = 0;
  do {
    uint8_t bytes[4];
    RETURN_IF_ERROR(env_->RandomBytes(bytes));
    n = (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
        bytes[3];
  } while (n >= kUniformBound);
  char digits[8];
  std::snprintf(digits, sizeof digits, "%06u", n % 1'000'000u);
  return "C" + FormatYyyymmdd(env_->NowMicros(), config_.utc_offset_seconds) + digits;
}

int CustomerService::CurrentYear() const {
  return std::stoi(FormatYyyymmdd(env_->NowMicros(), config_.utc_offset_seconds).substr(0, 4));
}

Result<store::CustomerRecord> CustomerService::SealNewRecord(
    const Actor& actor, const std::string& id, const std::map<std::string, std::string>& values) {
  store::CustomerRecord record;
  record.id = id;
  record.channel = actor.ChannelName();
  record.created_at_us = env_->NowMicros();
  record.updated_at_us = record.created_at_us;
  record.key_version = 1;
  ASSIGN_OR_RETURN(crypto::NewCustomerKey key, keyring_.CreateCustomerKey(id));
  record.kek_version = key.kek_version;
  record.wrapped_key = std::move(key.wrapped);
  for (const auto& [field_key, value] : values) {
    const catalog::FieldDef* field = catalog_.Find(field_key);
    if (field == nullptr) return Internal("validated record has an unknown field");
    if (field->protection == catalog::Protection::kPlain) {
      record.fields[field_key] = value;
    } else {
      ASSIGN_OR_RETURN(record.fields[field_key],
                       keyring_.EncryptField(AlgorithmFor(field->protection), key.key,
                                             record.key_version, id, field_key, value));
    }
    if (field->searchable) {
      ASSIGN_OR_RETURN(record.blind_indexes[field_key], keyring_.BlindIndex(field_key, value));
    }
  }
  // R-TAG-1: initial tags by the rules, without approval.
  if (initial_tagger_) record.tags = initial_tagger_(values);
  return record;
}

Result<CustomerView> CustomerService::Create(const Actor& actor,
                                             const std::map<std::string, std::string>& input) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kCustomerCreate));
  std::vector<std::string> keys;
  for (const auto& [key, value] : input) keys.push_back(key);
  RETURN_IF_ERROR(CheckEditable(actor, keys, audit::op::kCustomerCreate, /*creating=*/true));
  ASSIGN_OR_RETURN(FieldValues values,
                   catalog_.ValidateRecord(input, /*is_create=*/true, CurrentYear()));
  Status last = Status::Ok();
  for (int attempt = 0; attempt < kCustomerIdAttemptsMax; ++attempt) {
    ASSIGN_OR_RETURN(const std::string id, NewCustomerId());
    Result<store::CustomerRecord> record = SealNewRecord(actor, id, values);
    if (!record.ok()) {
      WipeValues(values);
      return record.status();
    }
    boost::json::array fields;
    for (const auto& [key, stored] : record->fields) fields.push_back(boost::json::string(key));
    // The row and its entry commit together (R-AUD-6); an id collision
    // writes neither.
    Result<store::AuditOutboxEntry> entry =
        ChangeEntry(audit_, actor, audit::op::kCustomerCreate, id, audit::result::kOk,
                    {{"fields", std::move(fields)}});
    if (!entry.ok()) {
      WipeValues(values);
      return entry.status();
    }
    last = store_.InsertCustomer(*record, &*entry);
    if (last.ok()) {
      WipeValues(values);
      RETURN_IF_ERROR(RecordWithChange(audit_, store_, *entry));
      return ToView(actor, *record);
    }
    if (last.code() != ErrorCode::kConflict) break;  // only an id collision is retried
  }
  WipeValues(values);
  if (last.code() == ErrorCode::kConflict) {
    return Unavailable("no free customer id after " + std::to_string(kCustomerIdAttemptsMax) +
                       " attempts; today's id space is nearly full");
  }
  return last;
}

bool CustomerService::MaySee(const Actor& actor, const catalog::FieldDef& field) const {
  if (actor.kind == ActorKind::kSelfService) {
    // A customer in self-service sees only their own contact fields, masked.
    return std::find(std::begin(kSelfServiceFields), std::end(kSelfServiceFields), field.key) !=
           std::end(kSelfServiceFields);
  }
  return policy::ReadAccess(actor.role, field.field_class) != policy::FieldRead::kNone;
}

Result<CustomerView> CustomerService::ToView(const Actor& actor,
                                             const store::CustomerRecord& record,
                                             const std::set<std::string>* only) {
  CustomerView view;
  view.id = record.id;
  view.tags = record.tags;
  view.channel = record.channel;
  view.created_at_us = record.created_at_us;
  view.updated_at_us = record.updated_at_us;
  std::optional<crypto::SecretBytes> key;
  for (const auto& [field_key, stored] : record.fields) {
    if (only != nullptr && only->count(field_key) == 0) continue;
    const catalog::FieldDef* field = catalog_.Find(field_key);
    // A field dropped from the catalog stays stored but is not shown.
    if (field == nullptr || field->mask == "never") continue;
    if (!MaySee(actor, *field)) continue;
    if (field->protection == catalog::Protection::kPlain) {
      view.fields[field_key] = catalog_.MaskValue(*field, stored);
      continue;
    }
    if (!key) {
      ASSIGN_OR_RETURN(
          key, keyring_.UnwrapCustomerKey(record.id, record.kek_version, record.wrapped_key));
    }
    ASSIGN_OR_RETURN(crypto::SecretBytes plain,
                     keyring_.DecryptField(*key, record.id, field_key, stored));
    view.fields[field_key] = catalog_.MaskValue(*field, plain.view());
  }
  return view;
}

Result<CustomerView> CustomerService::Get(const Actor& actor, const std::string& id) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kCustomerRead, id));
  Result<store::CustomerRecord> record = store_.GetCustomer(id);
  if (!record.ok()) {
    // Probing for ids is worth seeing too.
    RETURN_IF_ERROR(Audit(actor, audit::op::kCustomerView, id, audit::result::kFailed,
                          {{"reason", ErrorCodeName(record.status().code())}}));
    return record.status();
  }
  ASSIGN_OR_RETURN(CustomerView view, ToView(actor, *record));
  boost::json::array shown;
  for (const auto& [key, value] : view.fields) shown.push_back(boost::json::string(key));
  RETURN_IF_ERROR(Audit(actor, audit::op::kCustomerView, id, audit::result::kOk,
                        {{"fields", std::move(shown)}}));
  return view;
}

Result<int> CustomerService::PageLimit(std::optional<int> limit) const {
  if (!limit) return config_.limits.page_size_default;
  if (*limit < 1 || *limit > config_.limits.page_size_max) {
    return InvalidArgument("limit must be between 1 and " +
                           std::to_string(config_.limits.page_size_max));
  }
  return *limit;
}

Result<CustomerListPage> CustomerService::Search(const Actor& actor, const std::string& field_key,
                                                 const std::string& value,
                                                 const std::optional<std::string>& cursor,
                                                 std::optional<int> limit,
                                                 int* retry_after_seconds) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kCustomerSearch));
  const catalog::FieldDef* field = catalog_.Find(field_key);
  if (field != nullptr &&
      policy::ReadAccess(actor.role, field->field_class) == policy::FieldRead::kNone) {
    Audit(actor, audit::op::kAccessDenied, "", audit::result::kDenied,
          {{"attempted", audit::op::kCustomerSearch}, {"field", field_key}})
        .IgnoreError();
    return PermissionDenied("this role may not search by this field");
  }
  if (field == nullptr || !field->searchable) {
    return InvalidArgument("field is not searchable: " + field_key.substr(0, 48));
  }
  ASSIGN_OR_RETURN(const int page_limit, PageLimit(limit));
  // A malformed value is refused before the budget is charged: it cannot
  // match anyone, so it confirms nothing.
  ASSIGN_OR_RETURN(
      FieldValues normalised,
      catalog_.ValidateRecord({{field_key, value}}, /*is_create=*/false, CurrentYear()));
  // Every search is a guess that a value belongs to someone (issue 10.1):
  // charged to the account's budget before it runs, so the masks cannot be
  // undone by searching. No guard (never in a Vault): no search.
  if (search_guard_ == nullptr) {
    WipeValues(normalised);
    return Unavailable("search is not available: no search budget is configured");
  }
  // Keyed by account id, the id a security officer clears (channels may
  // not search at all).
  const std::string& budget_account = actor.id;
  Result<SearchCharge> charge = search_guard_->Admit(budget_account);
  if (!charge.ok()) {
    WipeValues(normalised);
    return charge.status();
  }
  if (charge->admission != SearchAdmission::kAllowed) {
    WipeValues(normalised);
    if (charge->newly_locked) {
      Audit(actor, audit::op::kSearchLock, "", audit::result::kOk,
            {{"account_id", budget_account},
             {"reason", kSearchLockBudgetRefusals},
             {"refused", config_.search.lock_after_refused}})
          .IgnoreError();  // the lock stands whether or not it was recorded
    }
    const bool locked = charge->admission == SearchAdmission::kLocked;
    Audit(actor, audit::op::kCustomerSearch, "", audit::result::kDenied,
          {{"field", field_key}, {"reason", locked ? "search_locked" : "search_budget_spent"}})
        .IgnoreError();  // refused either way
    if (locked) {
      return Status(ErrorCode::kLocked,
                    "search is locked for this account after repeated searches past its budget; "
                    "a security officer can clear it");
    }
    if (retry_after_seconds != nullptr) *retry_after_seconds = charge->retry_after_seconds;
    return Status(ErrorCode::kRateLimited,
                  "search budget spent (" + std::to_string(config_.search.searches_max) +
                      " searches, " + std::to_string(config_.search.misses_max) +
                      " without a match, per " + std::to_string(config_.search.window_minutes) +
                      " minutes); try later");
  }
  Result<std::string> digest = keyring_.BlindIndex(field_key, normalised[field_key]);
  WipeValues(normalised);
  if (!digest.ok()) return digest.status();
  ASSIGN_OR_RETURN(store::CustomerPage page,
                   store_.FindByBlindIndex(field_key, *digest, cursor, page_limit));
  // A search that found someone was no failed guess: its miss is refunded.
  if (!page.items.empty()) {
    RETURN_IF_ERROR(search_guard_->RefundMiss(budget_account, charge->window_start_us));
  }
  ASSIGN_OR_RETURN(CustomerListPage out, PageView(actor, page));
  RETURN_IF_ERROR(Audit(actor, audit::op::kCustomerSearch, "", audit::result::kOk,
                        {{"field", field_key}, {"count", out.items.size()}}));
  return out;
}

Status CustomerService::ClearSearchLock(const Actor& actor, const std::string& account_id,
                                        const std::string& reason) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kSearchUnlock));
  std::vector<FieldError> errors;
  if (account_id.empty() || account_id.size() > store::kSearchBudgetAccountBytesMax) {
    errors.push_back({"account_id", "format"});
  }
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos) {
    errors.push_back({"reason", "required"});
  }
  if (reason.size() > kSearchUnlockReasonBytesMax) errors.push_back({"reason", "too_long"});
  if (!errors.empty()) {
    return Status(ErrorCode::kValidationFailed, "clearing a search lock needs an account and a reason",
                  std::move(errors));
  }
  if (search_guard_ == nullptr) return Unavailable("no search budget is configured");
  Result<store::SearchBudgetRow> before = search_guard_->Unlock(account_id);
  if (!before.ok()) {
    if (before.status().code() == ErrorCode::kNotFound) {
      RETURN_IF_ERROR(Audit(actor, audit::op::kSearchUnlock, "", audit::result::kFailed,
                            {{"account_id", account_id}, {"reason", "not_locked"}}));
    }
    return before.status();
  }
  return Audit(actor, audit::op::kSearchUnlock, "", audit::result::kOk,
               {{"account_id", account_id},
                {"lock_reason", before->lock_reason},
                {"locked_at", FormatRfc3339(before->locked_at_us)},
                {"reason", reason}});
}

Result<std::vector<store::SearchBudgetRow>> CustomerService::SearchLocks(const Actor& actor) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kSearchUnlock));
  if (search_guard_ == nullptr) return Unavailable("no search budget is configured");
  return search_guard_->Locked(1000);
}

Result<CustomerListPage> CustomerService::List(const Actor& actor, const std::string& tag,
                                               const std::optional<std::string>& cursor,
                                               std::optional<int> limit) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kCustomerList));
  ASSIGN_OR_RETURN(const int page_limit, PageLimit(limit));
  std::optional<std::pair<std::string, std::string>> filter;
  if (!tag.empty()) {
    ASSIGN_OR_RETURN(filter, ParseTagFilter(tag));
  }
  ASSIGN_OR_RETURN(store::CustomerPage page, store_.ListCustomers(filter, cursor, page_limit));
  ASSIGN_OR_RETURN(CustomerListPage out, PageView(actor, page));
  boost::json::object details{{"count", out.items.size()}};
  if (!tag.empty()) details["tag"] = tag;
  RETURN_IF_ERROR(
      Audit(actor, audit::op::kCustomerList, "", audit::result::kOk, std::move(details)));
  return out;
}

Result<CustomerView> CustomerService::Update(const Actor& actor, const std::string& id,
                                             const FieldChanges& changes) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kCustomerUpdate, id));
  if (changes.empty()) return InvalidArgument("no fields to change");
  std::vector<std::string> keys;
  for (const auto& [key, value] : changes) keys.push_back(key);
  // A change to a field the role may edit only with approval (R-ACC-1,
  // R-APR-1) is sealed as a normal update would be and filed, whole, as a
  // sensitive_edit approval instead of being applied.
  bool needs_approval = false;
  for (const std::string& key : keys) {
    const catalog::FieldDef* field = catalog_.Find(key);
    needs_approval = needs_approval ||
                     (field != nullptr && policy::EditAccess(actor.role, field->field_class) ==
                                              policy::FieldEdit::kEditWithApproval);
  }
  const bool file = needs_approval && static_cast<bool>(sensitive_edit_filer_);
  RETURN_IF_ERROR(CheckEditable(actor, keys, audit::op::kCustomerUpdate, /*creating=*/false,
                                /*approval_follows=*/file, id));
  return ApplyUpdate(actor, id, changes, audit::op::kCustomerUpdate, file);
}

Result<CustomerView> CustomerService::UpdateContactBySelfService(const Actor& actor,
                                                                 const std::string& id,
                                                                 const FieldChanges& changes) {
  if (actor.kind != ActorKind::kSelfService) {
    return PermissionDenied("only a customer's own self-service may do this");
  }
  if (changes.empty()) return InvalidArgument("no fields to change");
  std::vector<FieldError> refused;
  for (const auto& [key, value] : changes) {
    const bool contact = std::find(std::begin(kSelfServiceFields), std::end(kSelfServiceFields),
                                   key) != std::end(kSelfServiceFields);
    if (!contact) {
      refused.push_back({key.substr(0, 48), "not_allowed"});
    } else if (!value) {
      refused.push_back({key, "required"});
    }
  }
  if (!refused.empty()) {
    return Status(ErrorCode::kPermissionDenied, "self-service changes only phone and address",
                  std::move(refused));
  }
  return ApplyUpdate(actor, id, changes, audit::op::kSelfServiceUpdate);
}

Result<CustomerView> CustomerService::ApplyUpdate(const Actor& actor, const std::string& id,
                                                  const FieldChanges& changes,
                                                  std::string_view operation,
                                                  bool file_for_approval) {
  std::map<std::string, std::string> to_set;
  std::vector<FieldError> errors;
  std::vector<std::string> to_remove;
  for (const auto& [field_key, value] : changes) {
    if (value) {
      to_set[field_key] = *value;
      continue;
    }
    const catalog::FieldDef* field = catalog_.Find(field_key);
    if (field == nullptr) {
      errors.push_back({field_key.substr(0, 48), "unknown_field"});
    } else if (field->required) {
      errors.push_back({field_key, "required"});
    } else {
      to_remove.push_back(field_key);
    }
  }
  Result<std::map<std::string, std::string>> validated =
      catalog_.ValidateRecord(to_set, /*is_create=*/false, CurrentYear());
  WipeValues(to_set);
  if (!validated.ok()) {
    for (const FieldError& e : validated.status().details()) errors.push_back(e);
  }
  if (!errors.empty()) {
    if (validated.ok()) WipeValues(*validated);
    return Status(ErrorCode::kValidationFailed, "the changes are not valid", std::move(errors));
  }
  std::map<std::string, std::string>& values = *validated;

  ASSIGN_OR_RETURN(store::CustomerRecord current, store_.GetCustomer(id));
  ASSIGN_OR_RETURN(
      crypto::SecretBytes key,
      keyring_.UnwrapCustomerKey(current.id, current.kek_version, current.wrapped_key));
  store::CustomerUpdate update;
  update.id = id;
  update.updated_at_us = env_->NowMicros();
  update.removed_fields = to_remove;
  std::string masked_changes;  // for a filed change's one-line summary
  for (const std::string& field_key : to_remove) masked_changes += ", " + field_key + " removed";
  for (const auto& [field_key, value] : values) {
    const catalog::FieldDef* field = catalog_.Find(field_key);
    if (file_for_approval) {
      masked_changes += ", " + field_key + " -> " + catalog_.MaskValue(*field, value);
    }
    if (field->protection == catalog::Protection::kPlain) {
      update.set_fields[field_key] = value;
    } else {
      Result<std::string> sealed = keyring_.EncryptField(AlgorithmFor(field->protection), key,
                                                         current.key_version, id, field_key, value);
      if (!sealed.ok()) {
        WipeValues(values);
        return sealed.status();
      }
      update.set_fields[field_key] = std::move(*sealed);
    }
    if (field->searchable) {
      Result<std::string> digest = keyring_.BlindIndex(field_key, value);
      if (!digest.ok()) {
        WipeValues(values);
        return digest.status();
      }
      update.set_blind_indexes[field_key] = std::move(*digest);
    }
  }
  WipeValues(values);
  if (file_for_approval) {
    ASSIGN_OR_RETURN(const std::string approval_id,
                     sensitive_edit_filer_(actor, update,
                                           "sensitive edit of " + id + ": " +
                                               masked_changes.substr(2)));
    ASSIGN_OR_RETURN(CustomerView unchanged, ToView(actor, current));
    unchanged.pending_approval_id = approval_id;
    return unchanged;
  }
  // Masked before/after values of the changed fields (R-AUD-1).
  std::set<std::string> changed_keys;
  for (const auto& [key, value] : changes) changed_keys.insert(key);
  ASSIGN_OR_RETURN(const CustomerView before, ToView(actor, current, &changed_keys));
  // The record as the update leaves it, for the entry's "after" values:
  // the entry is written with the update, so it is made before it.
  store::CustomerRecord updated = current;
  updated.updated_at_us = update.updated_at_us;
  for (const std::string& field_key : update.removed_fields) updated.fields.erase(field_key);
  for (const auto& [field_key, sealed] : update.set_fields) updated.fields[field_key] = sealed;
  ASSIGN_OR_RETURN(CustomerView after, ToView(actor, updated));
  boost::json::object changed;
  for (const auto& [key, value] : changes) {
    boost::json::object change;
    const auto b = before.fields.find(key);
    const auto a = after.fields.find(key);
    change["before"] =
        b == before.fields.end() ? boost::json::value(nullptr) : boost::json::value(b->second);
    change["after"] =
        a == after.fields.end() ? boost::json::value(nullptr) : boost::json::value(a->second);
    changed[key] = std::move(change);
  }
  ASSIGN_OR_RETURN(store::AuditOutboxEntry entry,
                   ChangeEntry(audit_, actor, operation, id, audit::result::kOk,
                               {{"changed", std::move(changed)}}));
  RETURN_IF_ERROR(store_.UpdateCustomer(update, &entry));
  RETURN_IF_ERROR(RecordWithChange(audit_, store_, entry));
  return after;
}

Status CustomerService::Delete(const Actor& actor, const std::string& id) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kCustomerDelete, id));
  ASSIGN_OR_RETURN(store::AuditOutboxEntry entry,
                   ChangeEntry(audit_, actor, audit::op::kCustomerDelete, id, audit::result::kOk,
                               {{"crypto_shredded", true}}));
  const Status deleted = store_.DeleteCustomer(id, &entry);
  // Deleted, but a shred ledger copy is behind (issue 10.2): the delete
  // committed with its entry, and is still not acknowledged.
  if (deleted.ok() || store::IsShredLedgerBehind(deleted)) {
    RETURN_IF_ERROR(RecordWithChange(audit_, store_, entry));
    return deleted;
  }
  // Nothing changed (and no entry was written with it): the failure is
  // recorded on its own.
  RETURN_IF_ERROR(Audit(actor, audit::op::kCustomerDelete, id, audit::result::kFailed,
                        {{"crypto_shredded", false}}));
  return deleted;
}

Result<CustomerListPage> CustomerService::PageView(const Actor& actor,
                                                   const store::CustomerPage& page) {
  CustomerListPage out;
  out.next_cursor = page.next_cursor;
  out.items.reserve(page.items.size());
  for (const store::CustomerRecord& record : page.items) {
    ASSIGN_OR_RETURN(CustomerView view, ToView(actor, record));
    out.items.push_back(std::move(view));
  }
  return out;
}

Result<RevealedFields> CustomerService::Reveal(const Actor& actor, const std::string& id,
                                               const std::vector<std::string>& fields,
                                               const std::string& reason) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kCustomerReveal, id));
  std::vector<FieldError> errors;
  const bool reason_blank = reason.find_first_not_of(" \t\r\n") == std::string::npos;
  if (reason_blank) errors.push_back({"reason", "required"});
  if (reason.size() > kRevealReasonBytesMax) errors.push_back({"reason", "too_long"});
  if (fields.empty()) errors.push_back({"fields", "required"});
  if (fields.size() > kRevealFieldsMax) errors.push_back({"fields", "too_many"});
  std::vector<FieldError> refused;
  std::set<std::string> wanted;
  for (const std::string& key : fields) {
    const catalog::FieldDef* field = catalog_.Find(key);
    if (field == nullptr) {
      errors.push_back({key.substr(0, 48), "unknown_field"});
    } else if (policy::ReadAccess(actor.role, field->field_class) != policy::FieldRead::kReveal) {
      refused.push_back({key, "not_allowed"});
    } else {
      wanted.insert(key);
    }
  }
  if (!errors.empty()) {
    return Status(ErrorCode::kValidationFailed, "a reveal needs a reason and known fields",
                  std::move(errors));
  }
  if (!refused.empty()) {
    boost::json::array names;
    for (const FieldError& e : refused) names.push_back(boost::json::string(e.field));
    Audit(actor, audit::op::kAccessDenied, id, audit::result::kDenied,
          {{"attempted", audit::op::kCustomerReveal}, {"fields", std::move(names)}})
        .IgnoreError();
    return Status(ErrorCode::kPermissionDenied, "this role may not reveal some of these fields",
                  std::move(refused));
  }
  // The fields asked for, as well as those returned (issue 10.12): a
  // field the customer has no value for is asked but not returned.
  boost::json::array asked;
  for (const std::string& key : wanted) asked.push_back(boost::json::string(key));
  RETURN_IF_ERROR(accounts_.CheckRevealRate(actor));
  Result<store::CustomerRecord> record = store_.GetCustomer(id);
  if (!record.ok()) {
    RETURN_IF_ERROR(Audit(actor, audit::op::kCustomerReveal, id, audit::result::kFailed,
                          {{"reason", ErrorCodeName(record.status().code())},
                           {"fields_asked", std::move(asked)}}));
    return record.status();
  }
  RevealedFields out;
  out.id = id;
  ASSIGN_OR_RETURN(
      crypto::SecretBytes key,
      keyring_.UnwrapCustomerKey(record->id, record->kek_version, record->wrapped_key));
  boost::json::array names;
  for (const std::string& field_key : wanted) {
    const auto stored = record->fields.find(field_key);
    if (stored == record->fields.end()) continue;  // not recorded for this customer
    const catalog::FieldDef* field = catalog_.Find(field_key);
    names.push_back(boost::json::string(field_key));
    if (field->protection == catalog::Protection::kPlain) {
      out.fields.emplace(field_key, crypto::SecretBytes(stored->second));
      continue;
    }
    ASSIGN_OR_RETURN(crypto::SecretBytes plain,
                     keyring_.DecryptField(key, record->id, field_key, stored->second));
    if (field->type == catalog::ValueType::kBinary) {
      // Never in full: a fingerprint lets staff compare templates.
      const crypto::Digest32 digest = crypto::Sm3(plain.view());
      out.fields.emplace(
          field_key,
          crypto::SecretBytes("sm3:" + HexEncode(crypto::DigestView(digest).substr(0, 8)) + " (" +
                              std::to_string(plain.size()) + " base64 chars)"));
      continue;
    }
    out.fields.emplace(field_key, std::move(plain));
  }
  RETURN_IF_ERROR(Audit(actor, audit::op::kCustomerReveal, id, audit::result::kOk,
                        {{"fields", std::move(names)},
                         {"fields_asked", std::move(asked)},
                         {"reason", reason}}));
  return out;
}

// One batch of an import on its way to the store. The validated plaintext
// stays beside its sealed record until the batch is written: an id that
// collides must be redrawn and the record sealed again, because the
// ciphertext is bound to the id.
struct CustomerService::ImportBatch {
  std::vector<FieldValues> values;
  std::vector<std::string> ids;
  std::vector<store::CustomerRecord> records;

  ~ImportBatch() {
    for (FieldValues& v : values) WipeValues(v);
  }
};

Status CustomerService::DrawBatchIds(ImportBatch& batch, const ImportBatch* in_flight) {
  std::set<std::string> taken;
  if (in_flight != nullptr) taken.insert(in_flight->ids.begin(), in_flight->ids.end());
  batch.ids.assign(batch.values.size(), std::string());
  std::vector<size_t> pending(batch.values.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  for (int attempt = 0; !pending.empty(); ++attempt) {
    if (attempt >= kCustomerIdAttemptsMax) {
      return Unavailable(
          "no free customer id for an import batch; today's id space is nearly full");
    }
    std::vector<std::string> drawn;
    for (size_t i : pending) {
      ASSIGN_OR_RETURN(std::string id, NewCustomerId());
      batch.ids[i] = id;
      drawn.push_back(std::move(id));
    }
    ASSIGN_OR_RETURN(const std::vector<std::string> existing, store_.ExistingCustomerIds(drawn));
    const std::set<std::string> in_store(existing.begin(), existing.end());
    std::vector<size_t> again;
    for (size_t i : pending) {
      if (in_store.count(batch.ids[i]) != 0 || !taken.insert(batch.ids[i]).second) {
        again.push_back(i);
      }
    }
    pending = std::move(again);
  }
  return Status::Ok();
}

Status CustomerService::SealBatch(const Actor& actor, ImportBatch& batch, int threads) {
  batch.records.assign(batch.values.size(), store::CustomerRecord());
  const size_t n = batch.values.size();
  const size_t workers = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(threads), n));
  std::vector<std::future<Status>> parts;
  for (size_t w = 0; w < workers; ++w) {
    parts.push_back(std::async(std::launch::async, [&, w]() -> Status {
      for (size_t i = w; i < n; i += workers) {
        ASSIGN_OR_RETURN(batch.records[i], SealNewRecord(actor, batch.ids[i], batch.values[i]));
      }
      return Status::Ok();
    }));
  }
  Status first = Status::Ok();
  for (auto& part : parts) {
    Status s = part.get();
    if (first.ok() && !s.ok()) first = std::move(s);
  }
  return first;
}

Status CustomerService::WriteBatch(const Actor& actor, ImportBatch& batch) {
  // Each batch commits with its own customer.import entry (R-AUD-6), so a
  // crash mid-import leaves no imported customer without an entry; the
  // summary entry of the whole import follows at its end.
  auto batch_entry = [&](size_t count) {
    return ChangeEntry(audit_, actor, audit::op::kCustomerImport, "", audit::result::kOk,
                       {{"batch_count", count}});
  };
  ASSIGN_OR_RETURN(store::AuditOutboxEntry entry, batch_entry(batch.records.size()));
  Status s = store_.InsertCustomers(batch.records, &entry);
  if (s.ok()) return RecordWithChange(audit_, store_, entry);
  if (s.code() != ErrorCode::kConflict) return s;
  // An id taken since it was checked (a create running beside the import):
  // write one by one, redrawing the ids that collide.
  for (size_t i = 0; i < batch.records.size(); ++i) {
    ASSIGN_OR_RETURN(store::AuditOutboxEntry one_entry, batch_entry(1));
    Status one = store_.InsertCustomer(batch.records[i], &one_entry);
    for (int attempt = 1; one.code() == ErrorCode::kConflict; ++attempt) {
      if (attempt >= kCustomerIdAttemptsMax) {
        return Unavailable("no free customer id during import; today's id space is nearly full");
      }
      ASSIGN_OR_RETURN(const std::string id, NewCustomerId());
      ASSIGN_OR_RETURN(batch.records[i], SealNewRecord(actor, id, batch.values[i]));
      one = store_.InsertCustomer(batch.records[i], &one_entry);
    }
    RETURN_IF_ERROR(one);
    RETURN_IF_ERROR(RecordWithChange(audit_, store_, one_entry));
  }
  return Status::Ok();
}

Result<ImportOutcome> CustomerService::Import(const Actor& actor,
                                              const std::vector<FieldValues>& rows,
                                              const ImportOptions& options) {
  if (options.batch_size < 1 || options.batch_size > 100'000) {
    return InvalidArgument("batch size must be between 1 and 100000");
  }
  if (options.seal_threads < 1 || options.seal_threads > 64) {
    return InvalidArgument("seal threads must be between 1 and 64");
  }
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kCustomerImport));
  std::set<std::string> keys;
  for (const FieldValues& row : rows) {
    for (const auto& [key, value] : row) keys.insert(key);
  }
  RETURN_IF_ERROR(CheckEditable(actor, {keys.begin(), keys.end()}, audit::op::kCustomerImport,
                                /*creating=*/true));
  ImportOutcome outcome;
  const int current_year = CurrentYear();
  // Pipeline: while the store writes batch k on its own thread, this thread
  // validates and draws ids for batch k+1 and the seal threads encrypt it.
  std::unique_ptr<ImportBatch> writing;
  std::future<Status> written;
  auto finish_write = [&]() -> Status {
    if (!writing) return Status::Ok();
    Status s = written.get();
    if (s.ok()) outcome.imported += static_cast<int64_t>(writing->records.size());
    writing.reset();
    return s;
  };

  size_t row = 0;
  while (row < rows.size()) {
    auto batch = std::make_unique<ImportBatch>();
    for (; row < rows.size() && static_cast<int>(batch->values.size()) < options.batch_size;
         ++row) {
      Result<FieldValues> values =
          catalog_.ValidateRecord(rows[row], /*is_create=*/true, current_year);
      if (!values.ok()) {
        outcome.refused.emplace(static_cast<int64_t>(row), values.status());
        continue;
      }
      batch->values.push_back(std::move(*values));
    }
    if (batch->values.empty()) continue;
    // The batch being written is not in the store yet: its ids are excluded
    // explicitly, so two batches never draw the same id.
    Status prepared = DrawBatchIds(*batch, writing.get());
    if (prepared.ok()) prepared = SealBatch(actor, *batch, options.seal_threads);
    RETURN_IF_ERROR(finish_write());
    RETURN_IF_ERROR(prepared);
    writing = std::move(batch);
    written = std::async(std::launch::async,
                         [this, &actor, b = writing.get()] { return WriteBatch(actor, *b); });
    if (options.progress)
      options.progress(static_cast<int64_t>(row), static_cast<int64_t>(rows.size()));
  }
  RETURN_IF_ERROR(finish_write());
  RETURN_IF_ERROR(Audit(actor, audit::op::kCustomerImport, "", audit::result::kOk,
                        {{"count", outcome.imported}, {"refused", outcome.refused.size()}}));
  return outcome;
}

}  // namespace custvault::service
