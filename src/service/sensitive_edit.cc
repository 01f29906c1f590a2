#include "service/sensitive_edit.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "crypto/hash.h"

#include "audit/entry.h"
#include "store/fields_blob.h"

namespace custvault::service {
namespace {

// Version 1: no fingerprints (filed before issue 11.3); version 2 adds
// them. Both are read; version 2 is written.
constexpr uint8_t kSealedUpdateVersionNoFingerprints = 1;
constexpr uint8_t kSealedUpdateVersion = 2;

void AppendPart(std::string_view part, std::string* out) {
  const uint32_t n = static_cast<uint32_t>(part.size());
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(n >> shift));
  out->append(part);
}

Result<std::string_view> TakePart(std::string_view& in) {
  if (in.size() < 4) return DataLoss("sealed update is truncated");
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(in[i]);
  in.remove_prefix(4);
  if (n > in.size()) return DataLoss("sealed update is truncated");
  std::string_view part = in.substr(0, n);
  in.remove_prefix(n);
  return part;
}

}  // namespace

std::string FieldFingerprint(const std::map<std::string, std::string>& fields,
                             const std::string& key) {
  const auto found = fields.find(key);
  if (found == fields.end()) return std::string();
  const crypto::Digest32 digest = crypto::Sm3(found->second);
  return std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
}

// Layout: version byte, then the customer id, the set fields, the blind
// indexes, the removed fields (as a fields blob with empty values) and the
// fingerprints (a fields blob), each as a u32 big-endian length and its
// bytes.
std::string EncodeSealedEdit(const SealedEdit& edit) {
  const store::CustomerUpdate& update = edit.update;
  std::string out(1, static_cast<char>(kSealedUpdateVersion));
  AppendPart(update.id, &out);
  AppendPart(store::EncodeFieldsBlob(update.set_fields), &out);
  AppendPart(store::EncodeFieldsBlob(update.set_blind_indexes), &out);
  std::map<std::string, std::string> removed;
  for (const std::string& key : update.removed_fields) removed[key] = "";
  AppendPart(store::EncodeFieldsBlob(removed), &out);
  AppendPart(store::EncodeFieldsBlob(edit.fingerprints), &out);
  return out;
}

Result<SealedEdit> DecodeSealedEdit(std::string_view bytes) {
  if (bytes.empty() || (static_cast<uint8_t>(bytes[0]) != kSealedUpdateVersion &&
                        static_cast<uint8_t>(bytes[0]) != kSealedUpdateVersionNoFingerprints)) {
    return DataLoss("sealed update has an unknown version");
  }
  const bool has_fingerprints = static_cast<uint8_t>(bytes[0]) == kSealedUpdateVersion;
  bytes.remove_prefix(1);
  SealedEdit edit;
  store::CustomerUpdate& update = edit.update;
  ASSIGN_OR_RETURN(const std::string_view id, TakePart(bytes));
  update.id = std::string(id);
  ASSIGN_OR_RETURN(const std::string_view set, TakePart(bytes));
  ASSIGN_OR_RETURN(update.set_fields, store::DecodeFieldsBlob(set));
  ASSIGN_OR_RETURN(const std::string_view indexes, TakePart(bytes));
  ASSIGN_OR_RETURN(update.set_blind_indexes, store::DecodeFieldsBlob(indexes));
  ASSIGN_OR_RETURN(const std::string_view removed_blob, TakePart(bytes));
  ASSIGN_OR_RETURN(const auto removed, store::DecodeFieldsBlob(removed_blob));
  for (const auto& [key, unused] : removed) update.removed_fields.push_back(key);
  if (has_fingerprints) {
    ASSIGN_OR_RETURN(const std::string_view fingerprints, TakePart(bytes));
    ASSIGN_OR_RETURN(edit.fingerprints, store::DecodeFieldsBlob(fingerprints));
  }
  if (!bytes.empty()) return DataLoss("sealed update has trailing bytes");
  if (update.id.empty()) return DataLoss("sealed update names no customer");
  return edit;
}

std::string EncodeSealedUpdate(const store::CustomerUpdate& update) {
  return EncodeSealedEdit(SealedEdit{update, {}});
}

Result<store::CustomerUpdate> DecodeSealedUpdate(std::string_view bytes) {
  ASSIGN_OR_RETURN(SealedEdit edit, DecodeSealedEdit(bytes));
  return std::move(edit.update);
}

std::map<std::string, std::string> FingerprintsOf(const store::CustomerUpdate& update,
                                                  const store::CustomerRecord& current) {
  std::map<std::string, std::string> out;
  for (const auto& [key, unused] : update.set_fields) out[key] = FieldFingerprint(current.fields, key);
  for (const std::string& key : update.removed_fields) {
    out[key] = FieldFingerprint(current.fields, key);
  }
  return out;
}

std::vector<std::string> FieldsChangedSince(const SealedEdit& edit,
                                            const store::CustomerRecord& current) {
  std::vector<std::string> changed;
  for (const auto& [key, fingerprint] : edit.fingerprints) {
    if (FieldFingerprint(current.fields, key) != fingerprint) changed.push_back(key);
  }
  return changed;
}

SensitiveEditFiler MakeSensitiveEditFiler(ApprovalService& approvals, store::Store& store) {
  return [&approvals, &store](const Actor& maker, const store::CustomerUpdate& sealed,
                              const std::string& summary) -> Result<std::string> {
    // What each changed field holds now, so the apply can tell whether
    // someone changed it meanwhile (issue 11.3).
    ASSIGN_OR_RETURN(const store::CustomerRecord current, store.GetCustomer(sealed.id));
    NewApproval request;
    request.kind = policy::ApprovalKind::kSensitiveEdit;
    request.subject = sealed.id;
    request.summary = TruncateUtf8(summary, store::kApprovalSummaryBytesMax);
    request.payload = EncodeSealedEdit(SealedEdit{sealed, FingerprintsOf(sealed, current)});
    ASSIGN_OR_RETURN(const ApprovalView filed, approvals.Submit(maker, request));
    return filed.id;
  };
}

Result<ApplyOutcome> SensitiveEditHandler::Apply(const Actor& approver,
                                                 const ApprovalRecord& approval,
                                                 const std::vector<ApprovalItemRecord>&) {
  ASSIGN_OR_RETURN(SealedEdit edit, DecodeSealedEdit(approval.payload));
  store::CustomerUpdate& update = edit.update;
  if (update.id != approval.subject) return DataLoss("sealed update is for another customer");
  Result<store::CustomerRecord> current = store_.GetCustomer(update.id);
  if (!current.ok() && current.status().code() == ErrorCode::kNotFound) {
    return NotFound("customer_deleted");
  }
  RETURN_IF_ERROR(current.status());
  // Issue 11.3: an older edit must not overwrite newer data. A field that
  // changed since filing (by anyone: a clerk, self-service, another
  // approved edit) fails the whole edit as stale, naming the fields. A
  // retry after a crash finds its own envelopes already in place and
  // applies them again harmlessly.
  std::vector<std::string> stale;
  for (const std::string& key : FieldsChangedSince(edit, *current)) {
    const auto mine = update.set_fields.find(key);
    const auto now = current->fields.find(key);
    const bool already_mine = mine != update.set_fields.end() && now != current->fields.end() &&
                              now->second == mine->second;
    const bool already_removed =
        now == current->fields.end() &&
        std::find(update.removed_fields.begin(), update.removed_fields.end(), key) !=
            update.removed_fields.end();
    if (!already_mine && !already_removed) stale.push_back(key);
  }
  if (!stale.empty()) {
    std::string fields;
    for (const std::string& key : stale) fields += (fields.empty() ? "" : ", ") + key;
    return Conflict("stale: changed since the request: " + fields);
  }
  update.updated_at_us = env_->NowMicros();
  // Setting the same envelopes again is harmless, so a retry after a crash
  // applies the same change.
  boost::json::array fields;
  for (const auto& [key, value] : update.set_fields) fields.push_back(boost::json::string(key));
  for (const std::string& key : update.removed_fields) fields.push_back(boost::json::string(key));
  // The change and its entry commit together (R-AUD-6).
  ASSIGN_OR_RETURN(
      store::AuditOutboxEntry entry,
      ChangeEntry(audit_, approver, audit::op::kCustomerUpdate, update.id, audit::result::kOk,
                  {{"fields", std::move(fields)},
                   {"approval_id", approval.id},
                   {"requested_by", approval.requested_by}}));
  const Status stored = store_.UpdateCustomer(update, &entry);
  if (stored.code() == ErrorCode::kNotFound) return NotFound("customer_deleted");
  RETURN_IF_ERROR(stored);
  RETURN_IF_ERROR(RecordWithChange(audit_, store_, entry));
  if (applied_hook_) applied_hook_(update.id);
  return ApplyOutcome{};
}

Result<boost::json::object> SensitiveEditHandler::Describe(const ApprovalRecord& approval) {
  ASSIGN_OR_RETURN(const SealedEdit edit, DecodeSealedEdit(approval.payload));
  // Field names and whether each changed since filing: never a value, so
  // an approver who may not see a field in plaintext still sees what the
  // edit touches and whether it would overwrite something newer.
  Result<store::CustomerRecord> current = store_.GetCustomer(edit.update.id);
  if (!current.ok() && current.status().code() != ErrorCode::kNotFound) return current.status();
  std::set<std::string> changed;
  if (current.ok()) {
    for (std::string& key : FieldsChangedSince(edit, *current)) changed.insert(std::move(key));
  }
  const bool pending = approval.status == store::kApprovalPending;
  boost::json::array fields;
  auto add = [&](const std::string& key, std::string_view change) {
    boost::json::object field{{"field", key}, {"change", change}};
    // Only meaningful before the decision: afterwards the edit itself is the newer value.
    if (pending && current.ok()) {
      field["newer_value_exists"] = edit.fingerprints.empty()
                                        ? boost::json::value(nullptr)
                                        : boost::json::value(changed.contains(key));
    }
    fields.push_back(std::move(field));
  };
  for (const auto& [key, unused] : edit.update.set_fields) add(key, "set");
  for (const std::string& key : edit.update.removed_fields) add(key, "remove");
  boost::json::object out{{"fields", std::move(fields)}};
  if (!current.ok()) out["customer_deleted"] = true;
  return out;
}

}  // namespace custvault::service
