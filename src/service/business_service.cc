#include "service/business_service.h"

#include <boost/json/serialize.hpp>
#include <charconv>

#include "audit/entry.h"
#include "catalog/utf8.h"
#include "common/encoding.h"
#include "common/env.h"
#include "policy/policy.h"
#include "store/cursor.h"

namespace custvault::service {
namespace {

constexpr std::string_view kTransaction = "transaction";
constexpr std::string_view kComplaint = "complaint";
constexpr std::string_view kCooperation = "cooperation";
constexpr std::string_view kTransactionIdPrefix = "TX";
constexpr std::string_view kComplaintIdPrefix = "CM";
constexpr std::string_view kCooperationIdPrefix = "CO";


// ---- validation: each check appends its findings; all are reported at once ----

// Whether the field already has a decoding error (then it is not checked again).
bool HasError(const std::vector<FieldError>& errors, std::string_view field) {
  for (const FieldError& e : errors) {
    if (e.field == field) return true;
  }
  return false;
}

// An event time: required or optional, not before 1970 and, unless
// `future_allowed`, at most kBusinessFutureSkewUs after now.
std::optional<int64_t> CheckTime(std::string_view field, const std::string& text, bool required,
                                 bool future_allowed, int64_t now_us,
                                 std::vector<FieldError>& errors) {
  if (HasError(errors, field)) return std::nullopt;
  if (text.empty()) {
    if (required) errors.push_back({std::string(field), "required"});
    return std::nullopt;
  }
  if (text.size() > kBusinessTimeTextBytesMax) {
    errors.push_back({std::string(field), "too_long"});
    return std::nullopt;
  }
  const std::optional<int64_t> time = ParseRfc3339(text);
  if (!time) {
    errors.push_back({std::string(field), "format"});
    return std::nullopt;
  }
  if (*time < 0) {
    errors.push_back({std::string(field), "before_1970"});
    return std::nullopt;
  }
  if (!future_allowed && *time > now_us + kBusinessFutureSkewUs) {
    errors.push_back({std::string(field), "in_future"});
    return std::nullopt;
  }
  return time;
}

bool IsCodeChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

// Channel, reference and kind: short ASCII codes, so no name or other
// personal value is typed into a plain column by mistake.
void CheckCode(std::string_view field, const std::string& value, bool required,
               std::vector<FieldError>& errors) {
  if (HasError(errors, field)) return;
  if (value.empty()) {
    if (required) errors.push_back({std::string(field), "required"});
    return;
  }
  if (value.size() > store::kBusinessTextBytesMax) {
    errors.push_back({std::string(field), "too_long"});
    return;
  }
  for (char c : value) {
    if (!IsCodeChar(c)) {
      errors.push_back({std::string(field), "format"});
      return;
    }
  }
}

void CheckSummary(const std::string& summary, std::vector<FieldError>& errors) {
  if (HasError(errors, "summary")) return;
  if (catalog::TrimSpaces(summary).empty()) {
    errors.push_back({"summary", "required"});
  } else if (summary.size() > kBusinessSummaryBytesMax) {
    errors.push_back({"summary", "too_long"});
  } else if (!catalog::IsValidUtf8(summary) || summary.find('\0') != std::string::npos) {
    errors.push_back({"summary", "encoding"});
  }
}

Status Invalid(std::vector<FieldError> errors, std::string_view what) {
  return Status(ErrorCode::kValidationFailed, "the " + std::string(what) + " is not valid",
                std::move(errors));
}

}  // namespace

std::string_view SummaryShownName(SummaryShown shown) {
  switch (shown) {
    case SummaryShown::kFull:
      return "full";
    case SummaryShown::kMasked:
      return "masked";
    case SummaryShown::kHidden:
      break;
  }
  return "hidden";
}

std::string MaskSummary(std::string_view summary) {
  constexpr std::string_view kEllipsis = "…";
  const std::optional<std::u32string> decoded = catalog::DecodeUtf8(summary);
  if (!decoded || decoded->size() <= 6) return std::string(kEllipsis);
  return catalog::EncodeUtf8(std::u32string_view(decoded->data(), 2)) + std::string(kEllipsis);
}

std::string TransactionIdText(int64_t id) {
  return std::string(kTransactionIdPrefix) + std::to_string(id);
}

std::optional<int64_t> ParseTransactionId(std::string_view text) {
  if (text.substr(0, kTransactionIdPrefix.size()) != kTransactionIdPrefix) return std::nullopt;
  text.remove_prefix(kTransactionIdPrefix.size());
  if (text.empty() || text.size() > 19 || text[0] == '0') return std::nullopt;
  int64_t id = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (error != std::errc() || end != text.data() + text.size() || id <= 0) return std::nullopt;
  return id;
}

BusinessService::BusinessService(Env* env, const Config& config, const crypto::Keyring& keyring,
                                 store::Store& store, store::BusinessStore& business,
                                 AccountService& accounts, AuditRecorder& audit)
    : env_(env),
      config_(config),
      keyring_(keyring),
      store_(store),
      business_(business),
      accounts_(accounts),
      audit_(audit) {}

void BusinessService::SetRecordsChangedHook(
    std::function<void(const std::string& customer_id)> hook) {
  std::lock_guard<std::mutex> lock(hook_mutex_);
  hook_ = std::move(hook);
}

void BusinessService::RecordsChanged(const std::string& customer_id) {
  std::function<void(const std::string&)> hook;
  {
    std::lock_guard<std::mutex> lock(hook_mutex_);
    hook = hook_;
  }
  if (!hook) return;
  try {
    hook(customer_id);
  } catch (...) {
    // The records are written and audited; recomputing tags is the hook's
    // business, and its failure must not turn a success into an error.
  }
}

Status BusinessService::Audit(const Actor& actor, std::string_view operation,
                              std::string_view customer_id, std::string_view result,
                              boost::json::object details) {
  Result<int64_t> seq = audit_.Record(actor, operation, customer_id, result, std::move(details));
  if (!seq.ok()) return Unavailable("the audit log could not record the operation; try again");
  return Status::Ok();
}

Status BusinessService::RequireCustomer(const Actor& actor, std::string_view operation,
                                        std::string_view kind, const std::string& customer_id) {
  if (customer_id.empty() || customer_id.size() > store::kCustomerIdBytesMax) {
    return NotFound("customer does not exist");
  }
  // A channel needs the record to know whose customer it is (issue 11.4).
  if (actor.kind == ActorKind::kChannel) {
    return LoadCustomer(actor, operation, kind, customer_id).status();
  }
  ASSIGN_OR_RETURN(const std::vector<std::string> existing,
                   store_.ExistingCustomerIds({customer_id}));
  if (!existing.empty()) return Status::Ok();
  RETURN_IF_ERROR(Audit(actor, operation, customer_id, audit::result::kFailed,
                        {{"kind", kind}, {"reason", "not_found"}}));
  return NotFound("customer does not exist");
}

Result<store::CustomerRecord> BusinessService::LoadCustomer(const Actor& actor,
                                                            std::string_view operation,
                                                            std::string_view kind,
                                                            const std::string& customer_id) {
  if (customer_id.empty() || customer_id.size() > store::kCustomerIdBytesMax) {
    return NotFound("customer does not exist");
  }
  Result<store::CustomerRecord> record = store_.GetCustomer(customer_id);
  if (!record.ok() && record.status().code() == ErrorCode::kNotFound) {
    RETURN_IF_ERROR(Audit(actor, operation, customer_id, audit::result::kFailed,
                          {{"kind", kind}, {"reason", "not_found"}}));
  }
  // Issue 11.4: a channel writes only for the customers it created; any
  // other customer is answered exactly as a missing one.
  if (record.ok() && actor.kind == ActorKind::kChannel && record->channel != actor.ChannelName()) {
    RETURN_IF_ERROR(Audit(actor, operation, customer_id, audit::result::kFailed,
                          {{"kind", kind}, {"reason", "not_own_customer"}}));
    return NotFound("customer does not exist");
  }
  return record;
}

Result<int> BusinessService::PageLimit(std::optional<int> limit) const {
  if (!limit) return config_.limits.page_size_default;
  if (*limit < 1 || *limit > config_.limits.page_size_max) {
    return InvalidArgument("limit must be between 1 and " +
                           std::to_string(config_.limits.page_size_max));
  }
  return *limit;
}

Result<std::string> BusinessService::NewRecordId(std::string_view prefix) {
  uint8_t bytes[8];
  RETURN_IF_ERROR(env_->RandomBytes(bytes));
  return std::string(prefix) +
         HexEncode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

Result<std::string> BusinessService::SealSummary(const store::CustomerRecord& customer,
                                                 const crypto::SecretBytes& key,
                                                 std::string_view binding,
                                                 std::string_view summary) const {
  // The algorithm of a basic protected field: AES-256-GCM, or SM4-GCM
  // under the gm profile (which refuses AES).
  const crypto::AeadAlgorithm algorithm = keyring_.profile() == crypto::CryptoProfile::kGm
                                              ? crypto::AeadAlgorithm::kSm4Gcm
                                              : crypto::AeadAlgorithm::kAes256Gcm;
  return keyring_.EncryptField(algorithm, key, customer.key_version, customer.id, binding, summary);
}

SummaryShown BusinessService::ShownTo(const Actor& actor) const {
  if (actor.kind != ActorKind::kStaff) return SummaryShown::kHidden;
  switch (policy::ReadAccess(actor.role, catalog::FieldClass::kBusiness)) {
    case policy::FieldRead::kReveal:
      return SummaryShown::kFull;
    case policy::FieldRead::kMasked:
      return SummaryShown::kMasked;
    case policy::FieldRead::kNone:
      break;
  }
  return SummaryShown::kHidden;
}

Result<std::optional<std::string>> BusinessService::ShowSummary(
    const Actor& actor, const store::CustomerRecord& customer,
    std::optional<crypto::SecretBytes>& key, std::string_view binding,
    std::string_view sealed) const {
  const SummaryShown shown = ShownTo(actor);
  if (shown == SummaryShown::kHidden) return std::optional<std::string>();  // not even decrypted
  if (!key) {
    ASSIGN_OR_RETURN(
        key, keyring_.UnwrapCustomerKey(customer.id, customer.kek_version, customer.wrapped_key));
  }
  ASSIGN_OR_RETURN(crypto::SecretBytes plain,
                   keyring_.DecryptField(*key, customer.id, binding, sealed));
  if (shown == SummaryShown::kMasked) return std::optional<std::string>(MaskSummary(plain.view()));
  return std::optional<std::string>(std::string(plain.view()));
}

namespace {
std::string ComplaintBinding(std::string_view id) { return "complaint:" + std::string(id); }
std::string CooperationBinding(std::string_view id) { return "cooperation:" + std::string(id); }

TransactionView TransactionToView(const store::TransactionRecord& r) {
  return {TransactionIdText(r.id),
          r.customer_id,
          r.amount_fen,
          r.occurred_at_us,
          r.channel,
          r.reference,
          r.created_by,
          r.created_at_us};
}
}  // namespace

Result<ComplaintView> BusinessService::ComplaintToView(const Actor& actor,
                                                       const store::CustomerRecord& customer,
                                                       std::optional<crypto::SecretBytes>& key,
                                                       const store::ComplaintRecord& r) const {
  ComplaintView view;
  view.id = r.id;
  view.customer_id = r.customer_id;
  view.opened_at_us = r.opened_at_us;
  view.closed_at_us = r.closed_at_us;
  view.status = r.status;
  view.created_by = r.created_by;
  view.created_at_us = r.created_at_us;
  view.closed_by = r.closed_by;
  view.summary_shown = ShownTo(actor);
  ASSIGN_OR_RETURN(view.summary,
                   ShowSummary(actor, customer, key, ComplaintBinding(r.id), r.summary_sealed));
  return view;
}

Result<CooperationView> BusinessService::CooperationToView(
    const Actor& actor, const store::CustomerRecord& customer,
    std::optional<crypto::SecretBytes>& key, const store::CooperationRecord& r) const {
  CooperationView view;
  view.id = r.id;
  view.customer_id = r.customer_id;
  view.started_at_us = r.started_at_us;
  view.ended_at_us = r.ended_at_us;
  view.kind = r.kind;
  view.created_by = r.created_by;
  view.created_at_us = r.created_at_us;
  view.summary_shown = ShownTo(actor);
  ASSIGN_OR_RETURN(view.summary,
                   ShowSummary(actor, customer, key, CooperationBinding(r.id), r.summary_sealed));
  return view;
}

// ---------------------------------------------------------------- adds

Result<TransactionView> BusinessService::AddTransaction(const Actor& actor,
                                                        const std::string& customer_id,
                                                        const NewTransaction& input) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kBusinessWrite, customer_id));
  const int64_t now_us = env_->NowMicros();
  std::vector<FieldError> errors = input.decode_errors;
  if (!HasError(errors, "amount_fen")) {
    if (!input.amount_fen) {
      errors.push_back({"amount_fen", "required"});
    } else if (*input.amount_fen == 0) {
      errors.push_back({"amount_fen", "zero"});
    } else if (*input.amount_fen > store::kAmountFenAbsMax ||
               *input.amount_fen < -store::kAmountFenAbsMax) {
      errors.push_back({"amount_fen", "out_of_range"});
    }
  }
  const std::optional<int64_t> occurred_at =
      CheckTime("occurred_at", input.occurred_at, true, false, now_us, errors);
  CheckCode("channel", input.channel, true, errors);
  CheckCode("reference", input.reference, false, errors);
  if (!errors.empty()) return Invalid(std::move(errors), "transaction");

  RETURN_IF_ERROR(RequireCustomer(actor, audit::op::kBusinessAdd, kTransaction, customer_id));
  store::TransactionRecord record;
  record.customer_id = customer_id;
  record.amount_fen = *input.amount_fen;
  record.occurred_at_us = *occurred_at;
  record.channel = input.channel;
  record.reference = input.reference;
  record.created_by = actor.ChannelName();
  record.created_at_us = now_us;
  // The row and its entry commit together (R-AUD-6); the entry names the
  // id the insert gives the row.
  ASSIGN_OR_RETURN(store::AuditOutboxEntry entry,
                   ChangeEntry(audit_, actor, audit::op::kBusinessAdd, customer_id,
                               audit::result::kOk, {{"kind", kTransaction}, {"record_id", ""}}));
  entry.details_for_id = [](int64_t id) {
    boost::json::object details{{"kind", kTransaction}};
    details["record_id"] = TransactionIdText(id);
    return std::string(boost::json::serialize(details));
  };
  Result<int64_t> id = business_.InsertTransaction(record, &entry);
  if (!id.ok()) {
    if (id.status().code() == ErrorCode::kNotFound) {  // deleted since it was checked
      RETURN_IF_ERROR(Audit(actor, audit::op::kBusinessAdd, customer_id, audit::result::kFailed,
                            {{"kind", kTransaction}, {"reason", "not_found"}}));
    }
    return id.status();
  }
  record.id = *id;
  TransactionView view = TransactionToView(record);
  RETURN_IF_ERROR(RecordWithChange(audit_, store_, entry));
  RecordsChanged(customer_id);
  return view;
}

Result<ComplaintView> BusinessService::AddComplaint(const Actor& actor,
                                                    const std::string& customer_id,
                                                    const NewComplaint& input) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kBusinessWrite, customer_id));
  const int64_t now_us = env_->NowMicros();
  std::vector<FieldError> errors = input.decode_errors;
  const std::optional<int64_t> opened_at =
      CheckTime("opened_at", input.opened_at, true, false, now_us, errors);
  std::optional<int64_t> closed_at =
      CheckTime("closed_at", input.closed_at, false, false, now_us, errors);
  if (opened_at && closed_at && *closed_at < *opened_at) {
    errors.push_back({"closed_at", "before_opened_at"});
  }
  if (!HasError(errors, "status")) {
    if (!input.status.empty() && input.status != "open" && input.status != "closed") {
      errors.push_back({"status", "format"});
    } else if (input.status == "closed" && input.closed_at.empty()) {
      errors.push_back({"closed_at", "required"});
    } else if (input.status == "open" && !input.closed_at.empty()) {
      errors.push_back({"status", "conflicts_with_closed_at"});
    }
  }
  CheckSummary(input.summary, errors);
  if (!errors.empty()) return Invalid(std::move(errors), "complaint");

  ASSIGN_OR_RETURN(store::CustomerRecord customer,
                   LoadCustomer(actor, audit::op::kBusinessAdd, kComplaint, customer_id));
  ASSIGN_OR_RETURN(
      crypto::SecretBytes key,
      keyring_.UnwrapCustomerKey(customer.id, customer.kek_version, customer.wrapped_key));
  store::ComplaintRecord record;
  record.customer_id = customer_id;
  record.opened_at_us = *opened_at;
  record.closed_at_us = closed_at;
  record.status = closed_at ? "closed" : "open";
  record.created_by = actor.ChannelName();
  record.created_at_us = now_us;
  if (closed_at) record.closed_by = record.created_by;
  Status inserted = Status::Ok();
  store::AuditOutboxEntry entry;  // written with the complaint (R-AUD-6)
  for (int attempt = 0; attempt < kBusinessIdAttemptsMax; ++attempt) {
    ASSIGN_OR_RETURN(record.id, NewRecordId(kComplaintIdPrefix));
    ASSIGN_OR_RETURN(record.summary_sealed,
                     SealSummary(customer, key, ComplaintBinding(record.id), input.summary));
    ASSIGN_OR_RETURN(
        entry,
        ChangeEntry(audit_, actor, audit::op::kBusinessAdd, customer_id, audit::result::kOk,
                    {{"kind", kComplaint}, {"record_id", record.id}, {"status", record.status}}));
    inserted = business_.InsertComplaint(record, &entry);
    if (inserted.code() != ErrorCode::kConflict) break;  // only an id collision is retried
  }
  if (inserted.code() == ErrorCode::kConflict) {
    return Unavailable("no free complaint id; try again");
  }
  RETURN_IF_ERROR(inserted);
  std::optional<crypto::SecretBytes> view_key(std::move(key));
  ASSIGN_OR_RETURN(ComplaintView view, ComplaintToView(actor, customer, view_key, record));
  RETURN_IF_ERROR(RecordWithChange(audit_, store_, entry));
  RecordsChanged(customer_id);
  return view;
}

Result<ComplaintView> BusinessService::CloseComplaint(const Actor& actor,
                                                      const std::string& customer_id,
                                                      const std::string& complaint_id,
                                                      const std::string& closed_at_text) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kBusinessWrite, customer_id));
  const int64_t now_us = env_->NowMicros();
  std::vector<FieldError> errors;
  std::optional<int64_t> closed_at =
      CheckTime("closed_at", closed_at_text, false, false, now_us, errors);
  if (!errors.empty()) return Invalid(std::move(errors), "close request");
  if (!closed_at) closed_at = now_us;

  ASSIGN_OR_RETURN(store::CustomerRecord customer,
                   LoadCustomer(actor, audit::op::kBusinessAdd, kComplaint, customer_id));
  if (complaint_id.empty() || complaint_id.size() > store::kBusinessRecordIdBytesMax) {
    return NotFound("no such complaint");
  }
  Result<store::ComplaintRecord> current = business_.GetComplaint(customer_id, complaint_id);
  if (!current.ok()) return current.status();
  if (current->status == "open" && *closed_at < current->opened_at_us) {
    return Invalid({{"closed_at", "before_opened_at"}}, "close request");
  }
  const std::string closed_by = actor.ChannelName();
  ASSIGN_OR_RETURN(
      store::AuditOutboxEntry entry,
      ChangeEntry(audit_, actor, audit::op::kBusinessAdd, customer_id, audit::result::kOk,
                  {{"kind", kComplaint}, {"record_id", complaint_id}, {"action", "close"}}));
  RETURN_IF_ERROR(
      business_.CloseComplaint(customer_id, complaint_id, *closed_at, closed_by, &entry));
  store::ComplaintRecord record = std::move(*current);
  record.status = "closed";
  record.closed_at_us = closed_at;
  record.closed_by = closed_by;
  std::optional<crypto::SecretBytes> key;
  ASSIGN_OR_RETURN(ComplaintView view, ComplaintToView(actor, customer, key, record));
  RETURN_IF_ERROR(RecordWithChange(audit_, store_, entry));
  RecordsChanged(customer_id);
  return view;
}

Result<CooperationView> BusinessService::AddCooperation(const Actor& actor,
                                                        const std::string& customer_id,
                                                        const NewCooperation& input) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kBusinessWrite, customer_id));
  const int64_t now_us = env_->NowMicros();
  std::vector<FieldError> errors = input.decode_errors;
  const std::optional<int64_t> started_at =
      CheckTime("started_at", input.started_at, true, false, now_us, errors);
  const std::optional<int64_t> ended_at =
      CheckTime("ended_at", input.ended_at, false, /*future_allowed=*/true, now_us, errors);
  if (started_at && ended_at && *ended_at < *started_at) {
    errors.push_back({"ended_at", "before_started_at"});
  }
  CheckCode("kind", input.kind, true, errors);
  CheckSummary(input.summary, errors);
  if (!errors.empty()) return Invalid(std::move(errors), "cooperation record");

  ASSIGN_OR_RETURN(store::CustomerRecord customer,
                   LoadCustomer(actor, audit::op::kBusinessAdd, kCooperation, customer_id));
  ASSIGN_OR_RETURN(
      crypto::SecretBytes key,
      keyring_.UnwrapCustomerKey(customer.id, customer.kek_version, customer.wrapped_key));
  store::CooperationRecord record;
  record.customer_id = customer_id;
  record.started_at_us = *started_at;
  record.ended_at_us = ended_at;
  record.kind = input.kind;
  record.created_by = actor.ChannelName();
  record.created_at_us = now_us;
  Status inserted = Status::Ok();
  store::AuditOutboxEntry entry;  // written with the record (R-AUD-6)
  for (int attempt = 0; attempt < kBusinessIdAttemptsMax; ++attempt) {
    ASSIGN_OR_RETURN(record.id, NewRecordId(kCooperationIdPrefix));
    ASSIGN_OR_RETURN(record.summary_sealed,
                     SealSummary(customer, key, CooperationBinding(record.id), input.summary));
    ASSIGN_OR_RETURN(
        entry, ChangeEntry(audit_, actor, audit::op::kBusinessAdd, customer_id, audit::result::kOk,
                           {{"kind", kCooperation}, {"record_id", record.id}}));
    inserted = business_.InsertCooperation(record, &entry);
    if (inserted.code() != ErrorCode::kConflict) break;
  }
  if (inserted.code() == ErrorCode::kConflict) {
    return Unavailable("no free cooperation record id; try again");
  }
  RETURN_IF_ERROR(inserted);
  std::optional<crypto::SecretBytes> view_key(std::move(key));
  ASSIGN_OR_RETURN(CooperationView view, CooperationToView(actor, customer, view_key, record));
  RETURN_IF_ERROR(RecordWithChange(audit_, store_, entry));
  RecordsChanged(customer_id);
  return view;
}

// ---------------------------------------------------------------- lists

Result<BusinessListPage<TransactionView>> BusinessService::ListTransactions(
    const Actor& actor, const std::string& customer_id, const std::optional<std::string>& cursor,
    std::optional<int> limit) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kBusinessRead, customer_id));
  ASSIGN_OR_RETURN(const int page_limit, PageLimit(limit));
  RETURN_IF_ERROR(RequireCustomer(actor, audit::op::kBusinessList, kTransaction, customer_id));
  ASSIGN_OR_RETURN(store::TransactionPage page,
                   business_.ListTransactions(customer_id, cursor, page_limit));
  BusinessListPage<TransactionView> out;
  out.next_cursor = page.next_cursor;
  for (const store::TransactionRecord& r : page.items) out.items.push_back(TransactionToView(r));
  RETURN_IF_ERROR(Audit(actor, audit::op::kBusinessList, customer_id, audit::result::kOk,
                        {{"kind", kTransaction}, {"records", out.items.size()}}));
  return out;
}

Result<BusinessListPage<ComplaintView>> BusinessService::ListComplaints(
    const Actor& actor, const std::string& customer_id, const std::optional<std::string>& cursor,
    std::optional<int> limit) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kBusinessRead, customer_id));
  ASSIGN_OR_RETURN(const int page_limit, PageLimit(limit));
  ASSIGN_OR_RETURN(store::CustomerRecord customer,
                   LoadCustomer(actor, audit::op::kBusinessList, kComplaint, customer_id));
  ASSIGN_OR_RETURN(store::ComplaintPage page,
                   business_.ListComplaints(customer_id, cursor, page_limit));
  BusinessListPage<ComplaintView> out;
  out.next_cursor = page.next_cursor;
  std::optional<crypto::SecretBytes> key;
  for (const store::ComplaintRecord& r : page.items) {
    ASSIGN_OR_RETURN(ComplaintView view, ComplaintToView(actor, customer, key, r));
    out.items.push_back(std::move(view));
  }
  RETURN_IF_ERROR(Audit(actor, audit::op::kBusinessList, customer_id, audit::result::kOk,
                        {{"kind", kComplaint},
                         {"records", out.items.size()},
                         {"summaries", SummaryShownName(ShownTo(actor))}}));
  return out;
}

Result<BusinessListPage<CooperationView>> BusinessService::ListCooperation(
    const Actor& actor, const std::string& customer_id, const std::optional<std::string>& cursor,
    std::optional<int> limit) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kBusinessRead, customer_id));
  ASSIGN_OR_RETURN(const int page_limit, PageLimit(limit));
  ASSIGN_OR_RETURN(store::CustomerRecord customer,
                   LoadCustomer(actor, audit::op::kBusinessList, kCooperation, customer_id));
  ASSIGN_OR_RETURN(store::CooperationPage page,
                   business_.ListCooperation(customer_id, cursor, page_limit));
  BusinessListPage<CooperationView> out;
  out.next_cursor = page.next_cursor;
  std::optional<crypto::SecretBytes> key;
  for (const store::CooperationRecord& r : page.items) {
    ASSIGN_OR_RETURN(CooperationView view, CooperationToView(actor, customer, key, r));
    out.items.push_back(std::move(view));
  }
  RETURN_IF_ERROR(Audit(actor, audit::op::kBusinessList, customer_id, audit::result::kOk,
                        {{"kind", kCooperation},
                         {"records", out.items.size()},
                         {"summaries", SummaryShownName(ShownTo(actor))}}));
  return out;
}

}  // namespace custvault::service
