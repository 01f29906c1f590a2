// ApprovalService: the one maker-checker mechanism of R-APR-1. Tag
// batches, manual tag changes, sensitive-field edits, rules changes and
// restores are filed here by a maker and decided by the one role
// policy::ApproverRole(kind) names; role grants (kept by AccountService as
// role requests) are listed and decided through the same calls, as kind
// role_grant. docs/approvals.md describes the kinds, states and guarantees.
//
// Rules enforced here, on the server:
//   - Submit: the maker's role may run the kind's requested_with operation
//     (policy::ApprovalKindRules); a system job (ActorKind::kLocalOperator
//     with an id "job:<name>") may file too.
//   - Decide: the decider's role is ApproverRole(kind) and may run
//     approval.decide; the maker can never decide their own request
//     (account ids compared; 403 and an audited access.denied, whatever
//     the role); only a pending, unexpired approval is decided; a comment
//     of at most 1024 bytes; approve all, approve a chosen subset of a
//     batch's items, or reject all.
//   - Apply: the kind's ApprovalHandler applies the chosen items, all or
//     nothing (the handler writes them in one store transaction). The
//     approval goes pending -> applying (conditionally: of two concurrent
//     decisions exactly one wins, the other gets 409) -> approved /
//     partially_approved / failed. A crash while "applying" is finished by
//     FinishInterrupted() at the next open: handlers must be idempotent.
//   - Every step is audited: approval.request, approval.decide (with the
//     counts), approval.expire (a pending approval past expires_at_us is
//     expired lazily when read or decided, and by ExpireDue()).
//
// Thread safety: every method may be called from many threads at once.
// RegisterHandler only before the service is shared.
// Errors: kPermissionDenied (403), kNotFound (404), kConflict (409: not
// pending, expired, or decided by someone else first), kInvalidArgument /
// kTooLarge for bad input.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/env.h"
#include "common/status.h"
#include "policy/policy.h"
#include "service/account_service.h"
#include "service/actor.h"
#include "service/audit_service.h"
#include "store/approval_store.h"
#include "store/identity_store.h"

namespace custvault::service {

using store::ApprovalItemRecord;
using store::ApprovalRecord;

// What a handler reports after applying: which chosen items it did NOT
// apply (a chosen item may be skipped, e.g. a tag change whose customer's
// tags changed since filing; every other chosen item counts as applied)
// and a short machine note for the record.
struct ApplyOutcome {
  std::vector<int64_t> skipped_seqs;  // for a kind without items: leave empty
  std::string outcome = "applied";    // "applied", "customer_deleted", ...
};

// The chosen items of an approval, read page by page (a batch may hold a
// million): NextPage fills `page` and answers false once there are no more.
class ChosenItems {
 public:
  virtual ~ChosenItems() = default;
  virtual Result<bool> NextPage(std::vector<ApprovalItemRecord>* page) = 0;
};

// Applies one kind's approved work. Registered per kind with the service.
class ApprovalHandler {
 public:
  virtual ~ApprovalHandler() = default;
  // Applies `approval` (its payload) and, for a batch, the `chosen` items,
  // atomically: everything or nothing. May be called again for the same
  // approval after a crash, so it must be idempotent. A Status error with
  // code kNotFound or kConflict is a clean refusal (the approval becomes
  // "failed" with the message as its outcome, nothing applied); any other
  // error leaves the approval "applying" to be retried at the next open.
  virtual Result<ApplyOutcome> Apply(const Actor& approver, const ApprovalRecord& approval,
                                     const std::vector<ApprovalItemRecord>& chosen) = 0;
  // What the service calls. By default: every chosen item read into
  // memory, then Apply. A handler of large batches overrides it to apply
  // page by page (still in one transaction), keeping memory flat.
  virtual Result<ApplyOutcome> ApplyItems(const Actor& approver, const ApprovalRecord& approval,
                                          ChosenItems& chosen);
  // What an approver should see beyond the summary, shown with the
  // approval (ApprovalDetail::details): e.g. which fields a sensitive edit
  // changes and whether a newer value exists now, or a rules change's diff
  // and impact. Masked values and counts only. Default: nothing.
  virtual Result<boost::json::object> Describe(const ApprovalRecord& approval);
};

// One item of a batch, as filed.
struct NewApprovalItem {
  std::string customer_id;  // "" when not about a customer
  std::string summary;      // masked values only; <= 512 bytes
  std::string payload;      // <= 64 KiB
};

struct NewApproval {
  policy::ApprovalKind kind = policy::ApprovalKind::kTagChange;
  std::string subject;  // customer id, rules version, backup id...; no personal data
  std::string summary;  // one line, masked values only; <= 512 bytes
  std::string payload;  // <= 1 MiB; opaque to the service
  std::vector<NewApprovalItem> items;  // for Submit: at most kApprovalItemsPerWriteMax
};

// An approval as shown to the caller (role grants included, as kind
// "role_grant" with the id "r_..." of the role request; approvals of every
// other kind have ids "a_...").
struct ApprovalView {
  std::string id;
  std::string kind;
  std::string status;
  std::string requested_by;
  std::string requested_role;
  int64_t requested_at_us = 0;
  int64_t expires_at_us = 0;  // 0: does not expire (role grants)
  std::string subject;
  std::string summary;
  int64_t item_count = 0;
  std::string decided_by;
  std::string decided_role;
  int64_t decided_at_us = 0;
  std::string comment;
  int64_t items_chosen = 0;
  int64_t items_applied = 0;
  std::string outcome;
};

struct ApprovalItemView {
  std::string id;  // decimal seq
  std::string customer_id;
  std::string summary;
  bool chosen = false;
  bool applied = false;
};

struct ApprovalListRequest {
  std::optional<std::string> status;  // one of the store's statuses
  std::optional<std::string> kind;    // ApprovalKindName
  std::optional<std::string> cursor;
  std::optional<int> limit;  // 1..200, default 50
};

struct ApprovalListPage {
  std::vector<ApprovalView> items;
  std::optional<std::string> next_cursor;
};

struct ApprovalDetail {
  ApprovalView approval;
  // From the kind's handler (ApprovalHandler::Describe); empty when none.
  boost::json::object details;
  std::vector<ApprovalItemView> items;  // one page
  std::optional<std::string> next_items_cursor;
};

struct ApprovalDecision {
  bool approve = false;
  // Approve only these items (their ids); empty with approve: all of them.
  std::vector<std::string> item_ids;
  std::string comment;  // <= 1024 bytes; required to reject
};

inline constexpr int kApprovalPageLimitDefault = 50;
inline constexpr int kApprovalPageLimitMax = 200;
inline constexpr size_t kApprovalChosenItemsMax = 100000;  // item ids in one decision

// A batch being filed (a re-classification writes its items as it finds
// them, never holding them all). The approval stays "filing", invisible to
// deciders, until Finish; destroying it unfinished abandons it (status
// "failed", outcome "filing_abandoned"). Not thread-safe: one filer.
class ApprovalFiling {
 public:
  virtual ~ApprovalFiling() = default;
  virtual const std::string& id() const = 0;
  // Appends items (in the store at once: at most kApprovalItemsPerWriteMax).
  virtual Status AddItems(const std::vector<NewApprovalItem>& items) = 0;
  virtual int64_t item_count() const = 0;
  // Makes the approval pending with its final one-line summary and audits
  // approval.request. With no items the filing is abandoned instead
  // (outcome "no_items") and kNotFound is returned: nothing to decide.
  virtual Result<ApprovalView> Finish(const std::string& summary) = 0;
};

class ApprovalService {
 public:
  // All references must outlive the service. `identity` is read for the
  // role requests that show as role_grant approvals; deciding one goes
  // through `accounts`.
  ApprovalService(Env* env, const Config& config, store::ApprovalStore& store,
                  store::IdentityStore& identity, AccountService& accounts, AuditRecorder& audit);

  // The handler that applies approved work of `kind` (not role_grant:
  // role grants go to AccountService). Must outlive the service.
  void RegisterHandler(policy::ApprovalKind kind, ApprovalHandler* handler);

  // Files one approval (with its items, if any) as pending; audited as
  // approval.request. 403 if the maker may not request the kind.
  Result<ApprovalView> Submit(const Actor& maker, const NewApproval& request);
  // Starts a batch filed in pieces (see ApprovalFiling).
  Result<std::unique_ptr<ApprovalFiling>> BeginFiling(const Actor& maker,
                                                      policy::ApprovalKind kind,
                                                      const std::string& subject,
                                                      const std::string& payload);

  // approval.read. What a role sees: the kinds it requests or decides
  // (docs/approvals.md); the auditor sees every kind, read-only.
  Result<ApprovalListPage> List(const Actor& actor, const ApprovalListRequest& request);
  // One approval with a page of its items (`items_cursor` from the last page).
  Result<ApprovalDetail> Get(const Actor& actor, const std::string& id,
                             const std::optional<std::string>& items_cursor,
                             std::optional<int> items_limit);
  // Decides and, on approval, applies. Returns the approval as it ends.
  Result<ApprovalView> Decide(const Actor& actor, const std::string& id,
                              const ApprovalDecision& decision);

  // Expires every pending approval past its expiry (audited
  // approval.expire each); returns how many.
  Result<int64_t> ExpireDue();
  // At open, after every handler is registered: finishes approvals left
  // "applying" by a crash, and marks filings left "filing" as failed.
  Status FinishInterrupted();

  // ---- for other services (no actor: the caller has already decided) ----
  // The stored approval (payload included); kNotFound.
  Result<ApprovalRecord> GetRecord(const std::string& id);
  // The items of the pending approvals of `kind` about `subject` (at most
  // 20 approvals, 100 items each): lets a service avoid filing the same
  // change twice.
  Result<std::vector<ApprovalItemRecord>> PendingItemsAbout(policy::ApprovalKind kind,
                                                            const std::string& subject);

  // The system actor of a job ("job:<name>"), which may file approvals.
  static Actor JobActor(const std::string& job_name);
  static bool IsJobActor(const Actor& actor);

 private:
  class Filing;
  friend class Filing;

  Status CheckMaker(const Actor& maker, policy::ApprovalKind kind);
  bool MayView(const Actor& actor, std::string_view kind, const std::string& requested_by) const;
  // Expires `approval` if pending and past due (audited); updates it in place.
  Status ExpireIfDue(ApprovalRecord& approval);
  Status AuditRequest(const Actor& maker, const ApprovalRecord& approval);
  Status Deny(const Actor& actor, std::string_view reason, const std::string& target);
  // Whether `actor` filed approval/role request `id` (or is the account a
  // role grant is for); false when it does not exist.
  bool OwnRequest(const Actor& actor, const std::string& id);
  // pending -> applying has happened; runs the handler and finishes.
  Result<ApprovalRecord> ApplyAndFinish(const Actor& approver, ApprovalRecord approval);
  Result<ApprovalView> DecideRoleGrant(const Actor& actor, const std::string& id,
                                       const ApprovalDecision& decision);
  Result<ApprovalDetail> GetRoleGrant(const Actor& actor, const std::string& id);
  Result<std::string> NewApprovalId();

  Env* env_;
  const Config& config_;
  store::ApprovalStore& store_;
  store::IdentityStore& identity_;
  AccountService& accounts_;
  AuditRecorder& audit_;
  std::map<policy::ApprovalKind, ApprovalHandler*> handlers_;
};

ApprovalView ToApprovalView(const ApprovalRecord& record);

// `text` cut to at most `max_bytes` without splitting a UTF-8 character
// (summaries hold masked Chinese values).
std::string TruncateUtf8(std::string_view text, size_t max_bytes);

}  // namespace custvault::service
