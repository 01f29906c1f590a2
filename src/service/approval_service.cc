#include "service/approval_service.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "audit/entry.h"
#include "common/log.h"
#include "identity/token.h"
#include "store/cursor.h"

namespace custvault::service {
namespace {

using policy::ApprovalKind;

constexpr char kRoleGrantKind[] = "role_grant";
constexpr char kRoleRequestIdPrefix[] = "r_";
constexpr char kJobActorPrefix[] = "job:";
constexpr int64_t kMicrosPerDay = 86'400'000'000;
// Chosen items are read back in pages of this many to hand to the handler.
constexpr int kItemReadPage = 5000;
constexpr int kExpireBatch = 200;

bool IsBlank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

const policy::ApprovalKindRule* RuleOf(std::string_view kind_name) {
  for (const policy::ApprovalKindRule& rule : policy::ApprovalKindRules()) {
    if (rule.name == kind_name) return &rule;
  }
  return nullptr;
}

ApprovalView RoleGrantView(const store::RoleRequestRecord& r) {
  ApprovalView v;
  v.id = r.id;
  v.kind = kRoleGrantKind;
  v.status = r.status;
  v.requested_by = r.requested_by;
  v.requested_at_us = r.requested_at_us;
  v.subject = r.account_id;
  v.summary = "grant role " + r.requested_role + " to account " + r.account_id;
  v.item_count = 0;
  v.decided_by = r.decided_by;
  v.decided_at_us = r.decided_at_us;
  v.comment = r.comment;
  if (r.status == "approved") v.outcome = "applied";
  return v;
}

// Position cursors: "<requested_at_us>:<id>" in the shared opaque encoding.
std::string PositionCursor(int64_t at_us, const std::string& id) {
  return store::EncodeCursor(std::to_string(at_us) + ":" + id);
}

Result<store::ApprovalPosition> DecodePosition(const std::string& cursor) {
  ASSIGN_OR_RETURN(const std::string text, store::DecodeCursor(cursor));
  const size_t colon = text.find(':');
  store::ApprovalPosition position;
  if (colon == std::string::npos || colon == 0) return InvalidArgument("bad cursor");
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + colon, position.requested_at_us);
  if (error != std::errc() || end != text.data() + colon) return InvalidArgument("bad cursor");
  position.id = text.substr(colon + 1);
  if (position.id.empty() || position.id.size() > store::kApprovalIdBytesMax) {
    return InvalidArgument("bad cursor");
  }
  return position;
}

// Newest first: (requested_at desc, id desc).
bool Newer(int64_t a_at, const std::string& a_id, int64_t b_at, const std::string& b_id) {
  return a_at != b_at ? a_at > b_at : a_id > b_id;
}

Result<int64_t> ParseItemId(const std::string& text) {
  int64_t seq = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seq);
  if (text.empty() || text.size() > 19 || error != std::errc() ||
      end != text.data() + text.size() || seq < 1) {
    return InvalidArgument("item ids are the decimal ids of the approval's items");
  }
  return seq;
}

}  // namespace

ApprovalView ToApprovalView(const ApprovalRecord& r) {
  ApprovalView v;
  v.id = r.id;
  v.kind = r.kind;
  v.status = r.status;
  v.requested_by = r.requested_by;
  v.requested_role = r.requested_role;
  v.requested_at_us = r.requested_at_us;
  v.expires_at_us = r.expires_at_us;
  v.subject = r.subject;
  v.summary = r.summary;
  v.item_count = r.item_count;
  v.decided_by = r.decided_by;
  v.decided_role = r.decided_role;
  v.decided_at_us = r.decided_at_us;
  v.comment = r.comment;
  v.items_chosen = r.items_chosen;
  v.items_applied = r.items_applied;
  v.outcome = r.outcome;
  return v;
}

std::string TruncateUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  // Back off over continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

Result<boost::json::object> ApprovalHandler::Describe(const ApprovalRecord&) {
  return boost::json::object{};
}

Result<ApplyOutcome> ApprovalHandler::ApplyItems(const Actor& approver,
                                                 const ApprovalRecord& approval,
                                                 ChosenItems& chosen) {
  std::vector<ApprovalItemRecord> all;
  std::vector<ApprovalItemRecord> page;
  while (true) {
    ASSIGN_OR_RETURN(const bool more, chosen.NextPage(&page));
    for (ApprovalItemRecord& item : page) all.push_back(std::move(item));
    if (!more) break;
  }
  return Apply(approver, approval, all);
}

namespace {

// The chosen items of one approval, from the store, kItemReadPage at a time.
class StoredChosenItems final : public ChosenItems {
 public:
  StoredChosenItems(store::ApprovalStore& store, const std::string& approval_id)
      : store_(store), approval_id_(approval_id) {}
  Result<bool> NextPage(std::vector<ApprovalItemRecord>* page) override {
    page->clear();
    if (done_) return false;
    ASSIGN_OR_RETURN(store::ApprovalItemPage got,
                     store_.ListItems(approval_id_, after_, kItemReadPage, /*only_chosen=*/true));
    *page = std::move(got.items);
    if (got.next_seq) {
      after_ = *got.next_seq;
    } else {
      done_ = true;
    }
    return !done_;
  }

 private:
  store::ApprovalStore& store_;
  const std::string approval_id_;
  int64_t after_ = 0;
  bool done_ = false;
};

}  // namespace

// ---------------------------------------------------------------- filing

class ApprovalService::Filing final : public ApprovalFiling {
 public:
  Filing(ApprovalService& service, Actor maker, ApprovalRecord record)
      : service_(service), maker_(std::move(maker)), record_(std::move(record)) {}
  ~Filing() override {
    if (inserted_ && !finished_) {
      service_.store_.AbandonFiling(record_.id, "filing_abandoned").IgnoreError();
    }
  }

  const std::string& id() const override { return record_.id; }
  int64_t item_count() const override { return count_; }

  Status AddItems(const std::vector<NewApprovalItem>& items) override {
    if (finished_) return Conflict("the filing is finished");
    if (items.empty()) return Status::Ok();
    if (!inserted_) {
      // The row appears with the first item: a run that finds nothing to
      // change leaves no approval behind.
      RETURN_IF_ERROR(service_.store_.InsertApproval(record_));
      inserted_ = true;
    }
    std::vector<ApprovalItemRecord> records;
    records.reserve(items.size());
    for (const NewApprovalItem& item : items) {
      ApprovalItemRecord r;
      r.approval_id = record_.id;
      r.seq = count_ + 1 + static_cast<int64_t>(records.size());
      r.customer_id = item.customer_id;
      r.summary = item.summary;
      r.payload = item.payload;
      records.push_back(std::move(r));
    }
    RETURN_IF_ERROR(service_.store_.AppendItems(record_.id, records));
    count_ += static_cast<int64_t>(records.size());
    return Status::Ok();
  }

  Result<ApprovalView> Finish(const std::string& summary) override {
    if (finished_) return Conflict("the filing is finished");
    if (summary.size() > store::kApprovalSummaryBytesMax) return TooLarge("summary is too long");
    if (!inserted_) {
      finished_ = true;
      return NotFound("nothing to approve: no items were filed");
    }
    RETURN_IF_ERROR(service_.store_.FinishFiling(record_.id, summary));
    finished_ = true;
    ASSIGN_OR_RETURN(ApprovalRecord stored, service_.store_.GetApproval(record_.id));
    RETURN_IF_ERROR(service_.AuditRequest(maker_, stored));
    return ToApprovalView(stored);
  }

 private:
  ApprovalService& service_;
  const Actor maker_;
  ApprovalRecord record_;
  bool inserted_ = false;
  bool finished_ = false;
  int64_t count_ = 0;
};

// ---------------------------------------------------------------- service

ApprovalService::ApprovalService(Env* env, const Config& config, store::ApprovalStore& store,
                                 store::IdentityStore& identity, AccountService& accounts,
                                 AuditRecorder& audit)
    : env_(env),
      config_(config),
      store_(store),
      identity_(identity),
      accounts_(accounts),
      audit_(audit) {}

void ApprovalService::RegisterHandler(ApprovalKind kind, ApprovalHandler* handler) {
  handlers_[kind] = handler;
}

Actor ApprovalService::JobActor(const std::string& job_name) {
  Actor actor;
  actor.kind = ActorKind::kLocalOperator;
  actor.id = kJobActorPrefix + job_name;
  actor.ip = "local";
  return actor;
}

bool ApprovalService::IsJobActor(const Actor& actor) {
  return actor.kind == ActorKind::kLocalOperator && actor.id.rfind(kJobActorPrefix, 0) == 0;
}

Result<std::string> ApprovalService::NewApprovalId() { return identity::NewId(env_, "a_"); }

Status ApprovalService::Deny(const Actor& actor, std::string_view reason,
                             const std::string& target) {
  audit_
      .Record(actor, audit::op::kAccessDenied, "", audit::result::kDenied,
              {{"attempted", audit::op::kApprovalDecide}, {"approval_id", target},
               {"reason", reason}})
      .status()
      .IgnoreError();  // the refusal stands whether or not it was recorded
  return PermissionDenied(std::string(reason == "own_request"
                                          ? "the requester of an approval may never decide it"
                                          : "your role may not decide this kind of approval"));
}

bool ApprovalService::OwnRequest(const Actor& actor, const std::string& id) {
  if (id.empty() || id.size() > store::kApprovalIdBytesMax || actor.id.empty()) return false;
  if (id.rfind(kRoleRequestIdPrefix, 0) == 0) {
    Result<store::RoleRequestRecord> grant = identity_.GetRoleRequest(id);
    return grant.ok() && (grant->requested_by == actor.id || grant->account_id == actor.id);
  }
  Result<ApprovalRecord> approval = store_.GetApproval(id);
  return approval.ok() && approval->requested_by == actor.id;
}

Status ApprovalService::CheckMaker(const Actor& maker, ApprovalKind kind) {
  if (IsJobActor(maker)) return Status::Ok();
  const policy::ApprovalKindRule& rule = policy::ApprovalKindRules()[static_cast<size_t>(kind)];
  return accounts_.Authorize(maker, rule.requested_with);
}

bool ApprovalService::MayView(const Actor& actor, std::string_view kind,
                              const std::string& requested_by) const {
  if (actor.kind != ActorKind::kStaff) return false;
  if (requested_by == actor.id) return true;
  if (actor.role == Role::kAuditor) return true;  // read-only, every kind
  const policy::ApprovalKindRule* rule = RuleOf(kind);
  if (rule == nullptr) return false;
  return policy::Allows(actor.role, rule->requested_with) || actor.role == rule->approver;
}

Status ApprovalService::AuditRequest(const Actor& maker, const ApprovalRecord& approval) {
  const bool about_customer =
      approval.kind == policy::ApprovalKindName(ApprovalKind::kTagChange) ||
      approval.kind == policy::ApprovalKindName(ApprovalKind::kSensitiveEdit);
  Result<int64_t> seq =
      audit_.Record(maker, audit::op::kApprovalRequest, about_customer ? approval.subject : "",
                    audit::result::kOk,
                    {{"approval_id", approval.id},
                     {"kind", approval.kind},
                     {"items", approval.item_count},
                     {"summary", approval.summary}});
  if (!seq.ok()) return Unavailable("the audit log could not record the request; try again");
  return Status::Ok();
}

Result<ApprovalView> ApprovalService::Submit(const Actor& maker, const NewApproval& request) {
  RETURN_IF_ERROR(CheckMaker(maker, request.kind));
  if (request.kind == ApprovalKind::kRoleGrant) {
    return InvalidArgument("role grants are requested through the account service");
  }
  if (IsBlank(request.summary)) return InvalidArgument("an approval needs a summary");
  if (request.summary.size() > store::kApprovalSummaryBytesMax) {
    return TooLarge("summary is too long");
  }
  if (request.payload.size() > store::kApprovalPayloadBytesMax) {
    return TooLarge("payload is too large");
  }
  if (request.items.size() > store::kApprovalItemsPerWriteMax) {
    return TooLarge("too many items for one submission; file them in pieces");
  }
  ASSIGN_OR_RETURN(const std::string id, NewApprovalId());
  const int64_t now = env_->NowMicros();
  ApprovalRecord record;
  record.id = id;
  record.kind = std::string(policy::ApprovalKindName(request.kind));
  record.status = request.items.empty() ? store::kApprovalPending : store::kApprovalFiling;
  record.requested_by = maker.id;
  record.requested_role = maker.kind == ActorKind::kStaff ? std::string(RoleName(maker.role)) : "";
  record.requested_at_us = now;
  record.expires_at_us = now + int64_t{config_.tags.approval_expiry_days} * kMicrosPerDay;
  record.subject = request.subject;
  record.summary = request.summary;
  record.payload = request.payload;
  if (request.items.empty()) {
    RETURN_IF_ERROR(store_.InsertApproval(record));
    RETURN_IF_ERROR(AuditRequest(maker, record));
    return ToApprovalView(record);
  }
  // With items: filed, then made pending (so nobody decides half a list).
  Filing filing(*this, maker, record);
  RETURN_IF_ERROR(filing.AddItems(request.items));
  return filing.Finish(request.summary);
}

Result<std::unique_ptr<ApprovalFiling>> ApprovalService::BeginFiling(const Actor& maker,
                                                                     ApprovalKind kind,
                                                                     const std::string& subject,
                                                                     const std::string& payload) {
  RETURN_IF_ERROR(CheckMaker(maker, kind));
  if (kind == ApprovalKind::kRoleGrant) {
    return InvalidArgument("role grants are requested through the account service");
  }
  if (payload.size() > store::kApprovalPayloadBytesMax) return TooLarge("payload is too large");
  ASSIGN_OR_RETURN(const std::string id, NewApprovalId());
  const int64_t now = env_->NowMicros();
  ApprovalRecord record;
  record.id = id;
  record.kind = std::string(policy::ApprovalKindName(kind));
  record.status = store::kApprovalFiling;
  record.requested_by = maker.id;
  record.requested_role = maker.kind == ActorKind::kStaff ? std::string(RoleName(maker.role)) : "";
  record.requested_at_us = now;
  record.expires_at_us = now + int64_t{config_.tags.approval_expiry_days} * kMicrosPerDay;
  record.subject = subject;
  record.summary = "being filed";
  record.payload = payload;
  return std::unique_ptr<ApprovalFiling>(new Filing(*this, maker, std::move(record)));
}

Status ApprovalService::ExpireIfDue(ApprovalRecord& approval) {
  const int64_t now = env_->NowMicros();
  if (approval.status != store::kApprovalPending || now < approval.expires_at_us) {
    return Status::Ok();
  }
  ApprovalRecord decision;
  decision.decided_by = "system";
  decision.decided_at_us = now;
  decision.outcome = "expired";
  Status s = store_.Decide(approval.id, store::kApprovalExpired, decision, {}, false);
  if (s.code() == ErrorCode::kConflict) {
    // Someone decided or expired it first: read what it is now.
    ASSIGN_OR_RETURN(approval, store_.GetApproval(approval.id));
    return Status::Ok();
  }
  RETURN_IF_ERROR(s);
  approval.status = store::kApprovalExpired;
  approval.decided_by = decision.decided_by;
  approval.decided_at_us = now;
  approval.outcome = decision.outcome;
  const Actor system = JobActor("approval-expiry");
  Result<int64_t> seq = audit_.Record(system, audit::op::kApprovalExpire, "", audit::result::kOk,
                                      {{"approval_id", approval.id},
                                       {"kind", approval.kind},
                                       {"requested_by", approval.requested_by},
                                       {"items", approval.item_count}});
  if (!seq.ok()) return Unavailable("the audit log could not record an expiry; try again");
  return Status::Ok();
}

Result<int64_t> ApprovalService::ExpireDue() {
  int64_t expired = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<ApprovalRecord> due,
                     store_.ListDue(env_->NowMicros(), kExpireBatch));
    if (due.empty()) break;
    for (ApprovalRecord& approval : due) {
      RETURN_IF_ERROR(ExpireIfDue(approval));
      if (approval.status == store::kApprovalExpired) ++expired;
    }
    if (due.size() < static_cast<size_t>(kExpireBatch)) break;
  }
  return expired;
}

Result<ApprovalListPage> ApprovalService::List(const Actor& actor,
                                               const ApprovalListRequest& request) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kApprovalRead));
  const int limit = request.limit.value_or(kApprovalPageLimitDefault);
  if (limit < 1 || limit > kApprovalPageLimitMax) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kApprovalPageLimitMax));
  }
  if (request.kind && !policy::ParseApprovalKind(*request.kind)) {
    return InvalidArgument("kind must be one of the approval kinds");
  }
  if (request.status) {
    static const std::set<std::string> kStatuses = {
        store::kApprovalPending,  store::kApprovalApplying, store::kApprovalApproved,
        store::kApprovalPartiallyApproved, store::kApprovalRejected, store::kApprovalExpired,
        store::kApprovalFailed,   store::kApprovalFiling};
    if (kStatuses.count(*request.status) == 0) {
      return InvalidArgument("status must be one of the approval statuses");
    }
  }
  std::optional<store::ApprovalPosition> after;
  if (request.cursor) {
    ASSIGN_OR_RETURN(after, DecodePosition(*request.cursor));
  }
  // Lazy expiry first, so a list never shows a pending approval past its time.
  ASSIGN_OR_RETURN(const int64_t expired, ExpireDue());
  (void)expired;

  // The kinds this role sees (docs/approvals.md).
  store::ApprovalFilter filter;
  filter.status = request.status;
  bool role_grants = false;
  for (const policy::ApprovalKindRule& rule : policy::ApprovalKindRules()) {
    if (request.kind && *request.kind != rule.name) continue;
    const bool visible = actor.role == Role::kAuditor ||
                         policy::Allows(actor.role, rule.requested_with) ||
                         actor.role == rule.approver;
    if (!visible) continue;
    if (rule.kind == ApprovalKind::kRoleGrant) {
      role_grants = true;
    } else {
      filter.kinds.push_back(std::string(rule.name));
    }
  }
  std::vector<ApprovalView> merged;
  if (!filter.kinds.empty()) {
    ASSIGN_OR_RETURN(std::vector<ApprovalRecord> rows,
                     store_.ListApprovals(filter, after, limit + 1));
    for (const ApprovalRecord& r : rows) merged.push_back(ToApprovalView(r));
  }
  if (role_grants) {
    const std::string status = request.status.value_or("");
    if (status.empty() || status == "pending" || status == "approved" || status == "rejected") {
      ASSIGN_OR_RETURN(std::vector<store::RoleRequestRecord> grants,
                       identity_.ListRoleRequests(status));
      for (const store::RoleRequestRecord& g : grants) {
        if (after && !Newer(after->requested_at_us, after->id, g.requested_at_us, g.id)) continue;
        merged.push_back(RoleGrantView(g));
      }
    }
  }
  std::sort(merged.begin(), merged.end(), [](const ApprovalView& a, const ApprovalView& b) {
    return Newer(a.requested_at_us, a.id, b.requested_at_us, b.id);
  });
  ApprovalListPage page;
  if (merged.size() > static_cast<size_t>(limit)) {
    merged.resize(limit);
    page.next_cursor = PositionCursor(merged.back().requested_at_us, merged.back().id);
  }
  page.items = std::move(merged);
  return page;
}

Result<ApprovalDetail> ApprovalService::GetRoleGrant(const Actor& actor, const std::string& id) {
  Result<store::RoleRequestRecord> grant = identity_.GetRoleRequest(id);
  if (!grant.ok() && grant.status().code() == ErrorCode::kNotFound) {
    return NotFound("no such approval");
  }
  if (!grant.ok()) return grant.status();
  if (!MayView(actor, kRoleGrantKind, grant->requested_by)) return NotFound("no such approval");
  ApprovalDetail detail;
  detail.approval = RoleGrantView(*grant);
  return detail;
}

Result<ApprovalDetail> ApprovalService::Get(const Actor& actor, const std::string& id,
                                            const std::optional<std::string>& items_cursor,
                                            std::optional<int> items_limit) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kApprovalRead));
  if (id.empty() || id.size() > store::kApprovalIdBytesMax) return NotFound("no such approval");
  const int limit = items_limit.value_or(kApprovalPageLimitDefault);
  if (limit < 1 || limit > kApprovalPageLimitMax) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kApprovalPageLimitMax));
  }
  int64_t after_seq = 0;
  if (items_cursor) {
    ASSIGN_OR_RETURN(const std::string text, store::DecodeCursor(*items_cursor));
    ASSIGN_OR_RETURN(after_seq, ParseItemId(text));
  }
  if (id.rfind(kRoleRequestIdPrefix, 0) == 0) return GetRoleGrant(actor, id);
  ASSIGN_OR_RETURN(ApprovalRecord approval, store_.GetApproval(id));
  // Not visible to this role: the same answer as a missing one.
  if (!MayView(actor, approval.kind, approval.requested_by)) return NotFound("no such approval");
  RETURN_IF_ERROR(ExpireIfDue(approval));
  ApprovalDetail detail;
  detail.approval = ToApprovalView(approval);
  ASSIGN_OR_RETURN(store::ApprovalItemPage items,
                   store_.ListItems(id, after_seq, limit, /*only_chosen=*/false));
  for (const ApprovalItemRecord& item : items.items) {
    detail.items.push_back(
        {std::to_string(item.seq), item.customer_id, item.summary, item.chosen, item.applied});
  }
  if (items.next_seq) detail.next_items_cursor = store::EncodeCursor(std::to_string(*items.next_seq));
  if (const std::optional<ApprovalKind> kind = policy::ParseApprovalKind(approval.kind)) {
    if (const auto handler = handlers_.find(*kind); handler != handlers_.end()) {
      Result<boost::json::object> described = handler->second->Describe(approval);
      if (described.ok()) {
        detail.details = std::move(*described);
      } else {
        // The approval is still shown; what could not be described is said.
        spdlog::warn("approval {}: details not shown: {}", id, described.status().ToString());
        detail.details = {{"error", "the details could not be read"}};
      }
    }
  }
  return detail;
}

Result<ApprovalView> ApprovalService::DecideRoleGrant(const Actor& actor, const std::string& id,
                                                      const ApprovalDecision& decision) {
  Result<store::RoleRequestRecord> grant = identity_.GetRoleRequest(id);
  if (!grant.ok() && grant.status().code() == ErrorCode::kNotFound) {
    return NotFound("no such approval");
  }
  if (!grant.ok()) return grant.status();
  if (actor.kind != ActorKind::kStaff ||
      actor.role != policy::ApproverRole(ApprovalKind::kRoleGrant) ||
      !policy::Allows(actor.role, policy::Operation::kApprovalDecide)) {
    return Deny(actor, "wrong_role", id);
  }
  if (grant->requested_by == actor.id || grant->account_id == actor.id) {
    return Deny(actor, "own_request", id);
  }
  if (!decision.item_ids.empty()) return InvalidArgument("a role grant has no items to choose");
  ASSIGN_OR_RETURN(const RoleRequestView decided,
                   accounts_.DecideRoleRequest(actor, id, decision.approve, decision.comment));
  (void)decided;
  ASSIGN_OR_RETURN(const store::RoleRequestRecord stored, identity_.GetRoleRequest(id));
  return RoleGrantView(stored);
}

Result<ApprovalView> ApprovalService::Decide(const Actor& actor, const std::string& id,
                                             const ApprovalDecision& decision) {
  // Issue 10.13: one's own request is refused with that reason whatever
  // the role (a sys_admin deciding the grant they filed was told their role
  // may not decide). Looking it up first tells the caller nothing new: only
  // the requester learns that the id is theirs.
  if (OwnRequest(actor, id)) return Deny(actor, "own_request", id);
  // Roles that decide nothing are refused before anything else is looked up.
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kApprovalDecide));
  if (decision.comment.size() > store::kApprovalCommentBytesMax) {
    return Status(ErrorCode::kValidationFailed, "the comment is too long",
                  {{"comment", "too_long"}});
  }
  if (!decision.approve && IsBlank(decision.comment)) {
    return Status(ErrorCode::kValidationFailed, "a rejection needs a comment",
                  {{"comment", "required"}});
  }
  if (!decision.approve && !decision.item_ids.empty()) {
    return Status(ErrorCode::kValidationFailed, "a rejection refuses every item",
                  {{"items", "not_allowed"}});
  }
  if (decision.item_ids.size() > kApprovalChosenItemsMax) {
    return TooLarge("too many item ids in one decision");
  }
  if (id.empty() || id.size() > store::kApprovalIdBytesMax) return NotFound("no such approval");
  if (id.rfind(kRoleRequestIdPrefix, 0) == 0) return DecideRoleGrant(actor, id, decision);

  ASSIGN_OR_RETURN(ApprovalRecord approval, store_.GetApproval(id));
  const std::optional<ApprovalKind> kind = policy::ParseApprovalKind(approval.kind);
  if (!kind) return DataLoss("approval of an unknown kind");
  // The decider's role first, then never one's own request, whatever the role.
  if (actor.kind != ActorKind::kStaff || actor.role != policy::ApproverRole(*kind) ||
      !policy::Allows(actor.role, policy::Operation::kApprovalDecide)) {
    return Deny(actor, "wrong_role", id);
  }
  if (approval.requested_by == actor.id) return Deny(actor, "own_request", id);
  RETURN_IF_ERROR(ExpireIfDue(approval));
  if (approval.status == store::kApprovalExpired) return Conflict("the approval has expired");
  if (approval.status != store::kApprovalPending) {
    return Conflict("the approval is " + approval.status + ", not pending");
  }
  std::vector<int64_t> chosen;
  for (const std::string& item_id : decision.item_ids) {
    ASSIGN_OR_RETURN(const int64_t seq, ParseItemId(item_id));
    if (seq > approval.item_count) {
      return Status(ErrorCode::kValidationFailed, "an item id is not in this approval",
                    {{"items", "unknown_item"}});
    }
    chosen.push_back(seq);
  }
  std::sort(chosen.begin(), chosen.end());
  chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
  const bool choose_all = decision.approve && chosen.empty();

  ApprovalRecord record;
  record.decided_by = actor.id;
  record.decided_role = std::string(RoleName(actor.role));
  record.decided_at_us = env_->NowMicros();
  record.comment = decision.comment;
  record.outcome = decision.approve ? "" : "rejected";
  RETURN_IF_ERROR(store_.Decide(id,
                                decision.approve ? store::kApprovalApplying
                                                 : store::kApprovalRejected,
                                record, chosen, choose_all));
  ASSIGN_OR_RETURN(approval, store_.GetApproval(id));
  if (!decision.approve) {
    Result<int64_t> seq =
        audit_.Record(actor, audit::op::kApprovalDecide, "", audit::result::kOk,
                      {{"approval_id", id},
                       {"kind", approval.kind},
                       {"decision", "rejected"},
                       {"requested_by", approval.requested_by},
                       {"items_total", approval.item_count},
                       {"items_chosen", 0},
                       {"items_applied", 0},
                       {"comment", approval.comment}});
    if (!seq.ok()) return Unavailable("the audit log could not record the decision; try again");
    return ToApprovalView(approval);
  }
  ASSIGN_OR_RETURN(approval, ApplyAndFinish(actor, std::move(approval)));
  return ToApprovalView(approval);
}

Result<ApprovalRecord> ApprovalService::ApplyAndFinish(const Actor& approver,
                                                       ApprovalRecord approval) {
  const std::optional<ApprovalKind> kind = policy::ParseApprovalKind(approval.kind);
  const auto handler = kind ? handlers_.find(*kind) : handlers_.end();
  if (handler == handlers_.end() || handler->second == nullptr) {
    // Stays "applying": FinishInterrupted applies it once a handler exists.
    return Internal("no handler applies approvals of kind " + approval.kind);
  }
  StoredChosenItems chosen(store_, approval.id);
  Result<ApplyOutcome> applied = handler->second->ApplyItems(approver, approval, chosen);
  std::string final_status;
  ApplyOutcome outcome;
  if (applied.ok()) {
    outcome = std::move(*applied);
    final_status = approval.items_chosen < approval.item_count ? store::kApprovalPartiallyApproved
                                                               : store::kApprovalApproved;
  } else if (applied.status().code() == ErrorCode::kNotFound ||
             applied.status().code() == ErrorCode::kConflict) {
    // A clean refusal: nothing was applied, and the record says why.
    final_status = store::kApprovalFailed;
    outcome.outcome = applied.status().message().substr(0, 200);
  } else {
    spdlog::warn("approval {} could not be applied: {} (retried at the next start)", approval.id,
                 applied.status().ToString());
    return applied.status();
  }
  const bool failed = final_status == store::kApprovalFailed;
  const int64_t items_applied =
      failed ? 0
      : approval.item_count == 0
          ? 1
          : std::max<int64_t>(0, approval.items_chosen -
                                     static_cast<int64_t>(outcome.skipped_seqs.size()));
  RETURN_IF_ERROR(store_.FinishApplying(approval.id, final_status, !failed,
                                        outcome.skipped_seqs, items_applied, outcome.outcome));
  ASSIGN_OR_RETURN(approval, store_.GetApproval(approval.id));
  Result<int64_t> seq =
      audit_.Record(approver, audit::op::kApprovalDecide, "",
                    final_status == store::kApprovalFailed ? audit::result::kFailed
                                                           : audit::result::kOk,
                    {{"approval_id", approval.id},
                     {"kind", approval.kind},
                     {"decision", "approved"},
                     {"status", approval.status},
                     {"requested_by", approval.requested_by},
                     {"items_total", approval.item_count},
                     {"items_chosen", approval.items_chosen},
                     {"items_applied", approval.items_applied},
                     {"outcome", approval.outcome},
                     {"comment", approval.comment}});
  if (!seq.ok()) return Unavailable("the audit log could not record the decision; try again");
  return approval;
}

Result<ApprovalRecord> ApprovalService::GetRecord(const std::string& id) {
  if (id.empty() || id.size() > store::kApprovalIdBytesMax) return NotFound("no such approval");
  return store_.GetApproval(id);
}

Result<std::vector<ApprovalItemRecord>> ApprovalService::PendingItemsAbout(
    ApprovalKind kind, const std::string& subject) {
  store::ApprovalFilter filter;
  filter.status = store::kApprovalPending;
  filter.kinds = {std::string(policy::ApprovalKindName(kind))};
  filter.subject = subject;
  ASSIGN_OR_RETURN(std::vector<ApprovalRecord> pending,
                   store_.ListApprovals(filter, std::nullopt, 20));
  std::vector<ApprovalItemRecord> items;
  for (ApprovalRecord& approval : pending) {
    RETURN_IF_ERROR(ExpireIfDue(approval));
    if (approval.status != store::kApprovalPending) continue;
    ASSIGN_OR_RETURN(store::ApprovalItemPage page,
                     store_.ListItems(approval.id, 0, 100, /*only_chosen=*/false));
    for (ApprovalItemRecord& item : page.items) items.push_back(std::move(item));
  }
  return items;
}

Status ApprovalService::FinishInterrupted() {
  ASSIGN_OR_RETURN(std::vector<ApprovalRecord> filing,
                   store_.ListInStatus(store::kApprovalFiling, 1000));
  for (const ApprovalRecord& approval : filing) {
    Status s = store_.AbandonFiling(approval.id, "filing_interrupted");
    if (!s.ok() && s.code() != ErrorCode::kConflict) return s;
  }
  ASSIGN_OR_RETURN(std::vector<ApprovalRecord> applying,
                   store_.ListInStatus(store::kApprovalApplying, 1000));
  for (ApprovalRecord& listed : applying) {
    ASSIGN_OR_RETURN(ApprovalRecord approval, store_.GetApproval(listed.id));  // with payload
    Actor approver;
    approver.kind = ActorKind::kStaff;
    approver.id = approval.decided_by;
    approver.role = ParseRole(approval.decided_role).value_or(Role::kDeptHead);
    approver.ip = "local";
    Result<ApprovalRecord> finished = ApplyAndFinish(approver, std::move(approval));
    if (!finished.ok()) {
      spdlog::warn("approval {} is still being applied: {}", listed.id,
                   finished.status().ToString());
    }
  }
  return Status::Ok();
}

}  // namespace custvault::service
