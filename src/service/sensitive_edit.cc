#include "service/sensitive_edit.h"

#include <boost/json.hpp>

#include "audit/entry.h"
#include "store/fields_blob.h"

namespace custvault::service {
namespace {

constexpr uint8_t kSealedUpdateVersion = 1;

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

// Layout: version byte, then the customer id, the set fields, the blind
// indexes and the removed fields (as a fields blob with empty values), each
// as a u32 big-endian length and its bytes.
std::string EncodeSealedUpdate(const store::CustomerUpdate& update) {
  std::string out(1, static_cast<char>(kSealedUpdateVersion));
  AppendPart(update.id, &out);
  AppendPart(store::EncodeFieldsBlob(update.set_fields), &out);
  AppendPart(store::EncodeFieldsBlob(update.set_blind_indexes), &out);
  std::map<std::string, std::string> removed;
  for (const std::string& key : update.removed_fields) removed[key] = "";
  AppendPart(store::EncodeFieldsBlob(removed), &out);
  return out;
}

Result<store::CustomerUpdate> DecodeSealedUpdate(std::string_view bytes) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kSealedUpdateVersion) {
    return DataLoss("sealed update has an unknown version");
  }
  bytes.remove_prefix(1);
  store::CustomerUpdate update;
  ASSIGN_OR_RETURN(const std::string_view id, TakePart(bytes));
  update.id = std::string(id);
  ASSIGN_OR_RETURN(const std::string_view set, TakePart(bytes));
  ASSIGN_OR_RETURN(update.set_fields, store::DecodeFieldsBlob(set));
  ASSIGN_OR_RETURN(const std::string_view indexes, TakePart(bytes));
  ASSIGN_OR_RETURN(update.set_blind_indexes, store::DecodeFieldsBlob(indexes));
  ASSIGN_OR_RETURN(const std::string_view removed_blob, TakePart(bytes));
  ASSIGN_OR_RETURN(const auto removed, store::DecodeFieldsBlob(removed_blob));
  for (const auto& [key, unused] : removed) update.removed_fields.push_back(key);
  if (!bytes.empty()) return DataLoss("sealed update has trailing bytes");
  if (update.id.empty()) return DataLoss("sealed update names no customer");
  return update;
}

SensitiveEditFiler MakeSensitiveEditFiler(ApprovalService& approvals) {
  return [&approvals](const Actor& maker, const store::CustomerUpdate& sealed,
                      const std::string& summary) -> Result<std::string> {
    NewApproval request;
    request.kind = policy::ApprovalKind::kSensitiveEdit;
    request.subject = sealed.id;
    request.summary = TruncateUtf8(summary, store::kApprovalSummaryBytesMax);
    request.payload = EncodeSealedUpdate(sealed);
    ASSIGN_OR_RETURN(const ApprovalView filed, approvals.Submit(maker, request));
    return filed.id;
  };
}

Result<ApplyOutcome> SensitiveEditHandler::Apply(const Actor& approver,
                                                 const ApprovalRecord& approval,
                                                 const std::vector<ApprovalItemRecord>&) {
  ASSIGN_OR_RETURN(store::CustomerUpdate update, DecodeSealedUpdate(approval.payload));
  if (update.id != approval.subject) return DataLoss("sealed update is for another customer");
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

}  // namespace custvault::service
