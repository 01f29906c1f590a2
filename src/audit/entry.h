// Audit entries (R-AUD-1): what is recorded, its canonical encoding and the
// SM3 hash chain (R-AUD-2). The byte layout is specified in
// docs/formats/audit-chain.md; changing it breaks every stored chain.
//
// Thread safety: free functions only; ChainHasher is one per thread.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/hash.h"
#include "store/audit_store.h"

namespace custvault::audit {

inline constexpr uint8_t kCanonicalVersion = 1;
inline constexpr size_t kHashBytes = 32;

// The operations of R-AUD-1, as stored (stable strings: search and alert
// rules match on them).
namespace op {
inline constexpr std::string_view kCustomerView = "customer.view";
inline constexpr std::string_view kCustomerSearch = "customer.search";
inline constexpr std::string_view kCustomerList = "customer.list";
inline constexpr std::string_view kCustomerCreate = "customer.create";
inline constexpr std::string_view kCustomerUpdate = "customer.update";
inline constexpr std::string_view kCustomerDelete = "customer.delete";
inline constexpr std::string_view kCustomerReveal = "customer.reveal";
inline constexpr std::string_view kCustomerExport = "customer.export";
inline constexpr std::string_view kCustomerImport = "customer.import";
inline constexpr std::string_view kAuthLogin = "auth.login";
inline constexpr std::string_view kAuthLogout = "auth.logout";
inline constexpr std::string_view kAuthLoginFailed = "auth.login_failed";
inline constexpr std::string_view kAuthLockout = "auth.lockout";
inline constexpr std::string_view kAuthPasswordChange = "auth.password_change";
inline constexpr std::string_view kAccountCreate = "account.create";
inline constexpr std::string_view kAccountDisable = "account.disable";
inline constexpr std::string_view kAccountReview = "account.review";
inline constexpr std::string_view kRoleGrantRequest = "role.grant_request";
inline constexpr std::string_view kApprovalDecide = "approval.decide";
inline constexpr std::string_view kBackupRun = "backup.run";
inline constexpr std::string_view kBackupRestore = "backup.restore";
inline constexpr std::string_view kKeyRotate = "key.rotate";
inline constexpr std::string_view kConfigChange = "config.change";
inline constexpr std::string_view kAccessDenied = "access.denied";
inline constexpr std::string_view kAuditExport = "audit.export";
inline constexpr std::string_view kAuditVerify = "audit.verify";
inline constexpr std::string_view kAlertAck = "alert.ack";
inline constexpr std::string_view kAuthTotpEnrol = "auth.totp_enrol";
inline constexpr std::string_view kAccountIpAllowlist = "account.ip_allowlist";
inline constexpr std::string_view kChannelRegister = "channel.register";
inline constexpr std::string_view kChannelRotateKey = "channel.rotate_key";
inline constexpr std::string_view kChannelRevoke = "channel.revoke";
// Summaries per client address and window (issues 10.6, 10.12): refused
// bearer credentials and logins refused before any password check.
inline constexpr std::string_view kAuthRejectedToken = "auth.rejected_token";
inline constexpr std::string_view kAuthLoginRefused = "auth.login_refused";
// Business records, tags, rules and approvals (R-TAG, R-APR).
inline constexpr std::string_view kBusinessAdd = "business.add";
inline constexpr std::string_view kBusinessList = "business.list";
inline constexpr std::string_view kTagReclassify = "tag.reclassify";   // a run (dry or filed)
inline constexpr std::string_view kTagApply = "tag.apply";             // tags changed on a customer
inline constexpr std::string_view kRulesChange = "rules.change";       // a rules version filed/activated
inline constexpr std::string_view kApprovalRequest = "approval.request";
inline constexpr std::string_view kApprovalExpire = "approval.expire";
// Customer self-service (R-SELF-1): no staff actor; the customer id is kept.
inline constexpr std::string_view kSelfServiceStart = "self_service.start";
inline constexpr std::string_view kSelfServiceVerify = "self_service.verify";
inline constexpr std::string_view kSelfServiceUpdate = "self_service.update";
// Self-service requests refused by the per-address limit, summarised: one
// entry per window with counts (issue 10.8).
inline constexpr std::string_view kSelfServiceThrottled = "self_service.throttled";
// An account's search locked for a spent budget, and cleared (issue 10.1).
inline constexpr std::string_view kSearchLock = "search.lock";
inline constexpr std::string_view kSearchUnlock = "search.unlock";
// Backups and jobs (R-BAK).
inline constexpr std::string_view kBackupShip = "backup.ship";
inline constexpr std::string_view kBackupVerify = "backup.verify";
inline constexpr std::string_view kRestoreTest = "backup.restore_test";
inline constexpr std::string_view kJobRun = "job.run";
}  // namespace op

namespace result {
inline constexpr std::string_view kOk = "ok";
inline constexpr std::string_view kDenied = "denied";
inline constexpr std::string_view kFailed = "failed";
inline constexpr std::string_view kInvalid = "invalid";
}  // namespace result

bool IsKnownOperation(std::string_view operation);
bool IsKnownResult(std::string_view result);

// One thing that happened, as a caller reports it. The writer adds seq,
// time and the hashes.
//
// `details` holds masked before/after values ({"changed": {"mobile":
// {"before": "138****5678", "after": "139****1234"}}}) or counts ({"count":
// 20}); never plaintext personal data. The alert rules read "count" as the
// number of customers an operation touched (list, search, export, import).
struct AuditEvent {
  std::string actor_id;
  std::string actor_role;
  std::string source_ip;
  std::string operation;    // one of op::
  std::string customer_id;  // "" when not about one customer
  std::string result;       // one of result::
  boost::json::object details;
};

// Checks an event (known operation and result, every field within its
// limit, serialised details within kAuditDetailsBytesMax) and turns it into
// a row without seq, time or hashes. kInvalidArgument / kTooLarge.
Result<store::AuditEntryRow> PrepareRow(const AuditEvent& event);
// The same checks on a row (one read back from the audit outbox).
Status CheckRow(const store::AuditEntryRow& row);

// Appends the canonical encoding of an entry (docs/formats/audit-chain.md)
// to *out: version byte, then seq, time_us, actor_id, actor_role,
// source_ip, operation, customer_id, result, details, each as a u32
// big-endian length and its bytes (integers as 8 bytes big-endian).
void AppendCanonical(const store::AuditEntryView& entry, std::string* out);

store::AuditEntryView ViewOf(const store::AuditEntryRow& row);

// Computes SM3(prev_hash || canonical(entry)) with one reused digest
// context and buffer: no allocation per entry once warm (verify hashes
// millions of entries). Not thread-safe: one per thread.
class ChainHasher {
 public:
  ChainHasher();
  ~ChainHasher();
  ChainHasher(const ChainHasher&) = delete;
  ChainHasher& operator=(const ChainHasher&) = delete;

  // `entry.prev_hash` is ignored; `prev_hash` is hashed instead (so a
  // caller can try "what if this entry followed that one").
  crypto::Digest32 Hash(std::string_view prev_hash, const store::AuditEntryView& entry);

 private:
  EVP_MD_CTX* ctx_;
  std::string buffer_;
};

// 32 zero bytes: the prev_hash of entry 1.
std::string_view GenesisHash();

}  // namespace custvault::audit
