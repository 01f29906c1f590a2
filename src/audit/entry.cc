#include "audit/entry.h"

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>

namespace custvault::audit {
namespace {

constexpr std::string_view kOperations[] = {
    op::kCustomerView,   op::kCustomerSearch,     op::kCustomerList,   op::kCustomerCreate,
    op::kCustomerUpdate, op::kCustomerDelete,     op::kCustomerReveal, op::kCustomerExport,
    op::kCustomerImport, op::kAuthLogin,          op::kAuthLogout,     op::kAuthLoginFailed,
    op::kAuthLockout,    op::kAuthPasswordChange, op::kAccountCreate,  op::kAccountDisable,
    op::kAccountReview,  op::kRoleGrantRequest,   op::kApprovalDecide, op::kBackupRun,
    op::kBackupRestore,  op::kKeyRotate,          op::kConfigChange,   op::kAccessDenied,
    op::kAuditExport,    op::kAuditVerify,        op::kAlertAck,       op::kAuthTotpEnrol,
    op::kAccountIpAllowlist, op::kChannelRegister, op::kBusinessAdd, op::kBusinessList,
    op::kTagReclassify, op::kTagApply, op::kRulesChange, op::kApprovalRequest, op::kApprovalExpire,
    op::kSelfServiceStart, op::kSelfServiceVerify, op::kSelfServiceUpdate, op::kBackupShip,
    op::kBackupVerify, op::kRestoreTest, op::kJobRun, op::kChannelRotateKey, op::kChannelRevoke,
    op::kAuthRejectedToken, op::kAuthLoginRefused,
    op::kSelfServiceThrottled, op::kSearchLock, op::kSearchUnlock};

constexpr std::string_view kResults[] = {result::kOk, result::kDenied, result::kFailed,
                                         result::kInvalid};

void AppendU32(std::string* out, uint32_t value) {
  const char bytes[4] = {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
                         static_cast<char>(value >> 8), static_cast<char>(value)};
  out->append(bytes, 4);
}

void AppendInt64Field(std::string* out, int64_t value) {
  AppendU32(out, 8);
  const uint64_t u = static_cast<uint64_t>(value);
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(u >> (56 - 8 * i));
  out->append(bytes, 8);
}

void AppendTextField(std::string* out, std::string_view text) {
  AppendU32(out, static_cast<uint32_t>(text.size()));
  out->append(text);
}

Status CheckText(std::string_view name, std::string_view value, size_t max_bytes) {
  if (value.size() > max_bytes) {
    return TooLarge("audit " + std::string(name) + " is longer than " + std::to_string(max_bytes) +
                    " bytes");
  }
  return Status::Ok();
}

[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "custvault: fatal: %s\n", what);
  std::abort();
}

}  // namespace

bool IsKnownOperation(std::string_view operation) {
  for (std::string_view known : kOperations) {
    if (operation == known) return true;
  }
  return false;
}

bool IsKnownResult(std::string_view result) {
  for (std::string_view known : kResults) {
    if (result == known) return true;
  }
  return false;
}

Status CheckRow(const store::AuditEntryRow& row) {
  if (!IsKnownOperation(row.operation)) return InvalidArgument("unknown audit operation");
  if (!IsKnownResult(row.result)) return InvalidArgument("unknown audit result");
  if (row.actor_id.empty()) return InvalidArgument("audit event without an actor");
  RETURN_IF_ERROR(CheckText("actor id", row.actor_id, store::kAuditActorIdBytesMax));
  RETURN_IF_ERROR(CheckText("actor role", row.actor_role, store::kAuditRoleBytesMax));
  RETURN_IF_ERROR(CheckText("source ip", row.source_ip, store::kAuditIpBytesMax));
  RETURN_IF_ERROR(CheckText("customer id", row.customer_id, store::kAuditCustomerIdBytesMax));
  return CheckText("details", row.details, store::kAuditDetailsBytesMax);
}

Result<store::AuditEntryRow> PrepareRow(const AuditEvent& event) {
  // The cheap checks first: an unknown operation is refused before its
  // details are serialised.
  if (!IsKnownOperation(event.operation)) return InvalidArgument("unknown audit operation");
  if (!IsKnownResult(event.result)) return InvalidArgument("unknown audit result");
  store::AuditEntryRow row;
  row.actor_id = event.actor_id;
  row.actor_role = event.actor_role;
  row.source_ip = event.source_ip;
  row.operation = event.operation;
  row.customer_id = event.customer_id;
  row.result = event.result;
  row.details = boost::json::serialize(event.details);
  RETURN_IF_ERROR(CheckRow(row));
  return row;
}

void AppendCanonical(const store::AuditEntryView& entry, std::string* out) {
  out->push_back(static_cast<char>(kCanonicalVersion));
  AppendInt64Field(out, entry.seq);
  AppendInt64Field(out, entry.time_us);
  AppendTextField(out, entry.actor_id);
  AppendTextField(out, entry.actor_role);
  AppendTextField(out, entry.source_ip);
  AppendTextField(out, entry.operation);
  AppendTextField(out, entry.customer_id);
  AppendTextField(out, entry.result);
  AppendTextField(out, entry.details);
}

store::AuditEntryView ViewOf(const store::AuditEntryRow& row) {
  return store::AuditEntryView{row.seq,       row.time_us,   row.actor_id,    row.actor_role,
                               row.source_ip, row.operation, row.customer_id, row.result,
                               row.details,   row.prev_hash, row.hash};
}

ChainHasher::ChainHasher() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) Fatal("out of memory for a digest context");
  buffer_.reserve(1024);
}

ChainHasher::~ChainHasher() { EVP_MD_CTX_free(ctx_); }

crypto::Digest32 ChainHasher::Hash(std::string_view prev_hash, const store::AuditEntryView& entry) {
  static EVP_MD* const sm3 = EVP_MD_fetch(nullptr, "SM3", nullptr);
  if (sm3 == nullptr) Fatal("OpenSSL lacks SM3");
  buffer_.clear();
  buffer_.append(prev_hash);
  AppendCanonical(entry, &buffer_);
  crypto::Digest32 out{};
  unsigned int written = 0;
  if (EVP_DigestInit_ex2(ctx_, sm3, nullptr) != 1 ||
      EVP_DigestUpdate(ctx_, buffer_.data(), buffer_.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_, out.data(), &written) != 1 || written != out.size()) {
    Fatal("SM3 failed");
  }
  return out;
}

std::string_view GenesisHash() {
  static const std::string kGenesis(kHashBytes, '\0');
  return kGenesis;
}

}  // namespace custvault::audit
