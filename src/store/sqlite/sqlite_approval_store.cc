// The ApprovalStore and TagStore on the tables of migration 4, in the same
// SQLite file as the customers and through the same connections (writes
// through SqliteStore::WithWriter, reads on its reader pool), like
// sqlite_identity_store.cc. Tag changes must be in the customers' file:
// they apply to customer_tags in one transaction.
#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <set>

#include "store/approval_store.h"
#include "store/cursor.h"
#include "store/fields_blob.h"
#include "store/sqlite/sqlite_store.h"
#include "store/tag_store.h"

namespace custvault::store {
namespace sqlite {
namespace {

// ---- SQL: constants only; every value is a bound parameter ----
#define APPROVAL_COLUMNS                                                                  \
  "id, kind, status, requested_by, requested_role, requested_at_us, expires_at_us, "      \
  "subject, summary, payload, item_count, decided_by, decided_role, decided_at_us, "      \
  "comment, items_chosen, items_applied, outcome"
// The same without the payload (lists never need it).
#define APPROVAL_LIST_COLUMNS                                                             \
  "id, kind, status, requested_by, requested_role, requested_at_us, expires_at_us, "      \
  "subject, summary, x'', item_count, decided_by, decided_role, decided_at_us, "          \
  "comment, items_chosen, items_applied, outcome"

constexpr char kInsertApproval[] =
    "INSERT INTO approvals (" APPROVAL_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";
constexpr char kSelectApproval[] = "SELECT " APPROVAL_COLUMNS " FROM approvals WHERE id = ?1";
// ?1 status or '', ?2 ",kind,kind," or '', ?3 requested_by or NULL-ish flag ?4,
// ?5 subject with flag ?6, ?7/?8 the position after which to list.
constexpr char kListApprovals[] =
    "SELECT " APPROVAL_LIST_COLUMNS
    " FROM approvals WHERE (?1 = '' OR status = ?1)"
    " AND (?2 = '' OR instr(?2, ',' || kind || ',') > 0)"
    " AND (?4 = 0 OR requested_by = ?3)"
    " AND (?6 = 0 OR subject = ?5)"
    " AND (requested_at_us < ?7 OR (requested_at_us = ?7 AND id < ?8))"
    " ORDER BY requested_at_us DESC, id DESC LIMIT ?9";
constexpr char kListDue[] =
    "SELECT " APPROVAL_LIST_COLUMNS
    " FROM approvals WHERE status = 'pending' AND expires_at_us <= ?1"
    " ORDER BY expires_at_us, id LIMIT ?2";
constexpr char kListInStatus[] =
    "SELECT " APPROVAL_LIST_COLUMNS
    " FROM approvals WHERE status = ?1 ORDER BY requested_at_us, id LIMIT ?2";
constexpr char kSelectStatus[] =
    "SELECT status, item_count, expires_at_us FROM approvals WHERE id = ?1";
constexpr char kInsertItem[] =
    "INSERT INTO approval_items (approval_id, seq, customer_id, summary, payload, chosen, "
    "applied) VALUES (?1, ?2, ?3, ?4, ?5, 0, 0)";
constexpr char kSetItemCount[] = "UPDATE approvals SET item_count = ?2 WHERE id = ?1";
constexpr char kListItems[] =
    "SELECT approval_id, seq, customer_id, summary, payload, chosen, applied FROM approval_items"
    " WHERE approval_id = ?1 AND seq > ?2 AND (?3 = 0 OR chosen = 1) ORDER BY seq LIMIT ?4";
constexpr char kFinishFiling[] =
    "UPDATE approvals SET status = 'pending', summary = ?2 WHERE id = ?1 AND status = 'filing'";
constexpr char kAbandonFiling[] =
    "UPDATE approvals SET status = 'failed', outcome = ?2 WHERE id = ?1 AND status = 'filing'";
constexpr char kDecide[] =
    "UPDATE approvals SET status = ?2, decided_by = ?3, decided_role = ?4, decided_at_us = ?5, "
    "comment = ?6, items_chosen = ?7, outcome = ?8 WHERE id = ?1 AND status = 'pending'";
constexpr char kChooseAll[] = "UPDATE approval_items SET chosen = 1 WHERE approval_id = ?1";
constexpr char kChooseOne[] =
    "UPDATE approval_items SET chosen = 1 WHERE approval_id = ?1 AND seq = ?2";
constexpr char kFinishApplying[] =
    "UPDATE approvals SET status = ?2, items_applied = ?3, outcome = ?4 "
    "WHERE id = ?1 AND status = 'applying'";
constexpr char kMarkChosenApplied[] =
    "UPDATE approval_items SET applied = 1 WHERE approval_id = ?1 AND chosen = 1";
constexpr char kMarkSkipped[] =
    "UPDATE approval_items SET applied = 0 WHERE approval_id = ?1 AND seq = ?2";

#define RULES_COLUMNS \
  "version, text, status, created_by, created_at_us, approval_id, activated_at_us"
constexpr char kInsertRules[] =
    "INSERT INTO rules_versions (" RULES_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr char kMaxRulesVersion[] = "SELECT coalesce(max(version), 0) FROM rules_versions";
constexpr char kSelectRules[] = "SELECT " RULES_COLUMNS " FROM rules_versions WHERE version = ?1";
constexpr char kSelectActiveRules[] =
    "SELECT " RULES_COLUMNS " FROM rules_versions WHERE status = 'active'";
constexpr char kListRules[] =
    "SELECT " RULES_COLUMNS " FROM rules_versions ORDER BY version DESC LIMIT ?1";
constexpr char kSupersedeActive[] =
    "UPDATE rules_versions SET status = 'superseded' WHERE status = 'active' AND version <> ?1";
constexpr char kActivateRules[] =
    "UPDATE rules_versions SET status = 'active', activated_at_us = ?2 "
    "WHERE version = ?1 AND status = 'proposed'";

constexpr char kScanCustomers[] =
    "SELECT c.id, c.fields, k.kek_version, k.wrapped FROM customers c "
    "LEFT JOIN customer_keys k ON k.customer_id = c.id WHERE c.id > ?1 ORDER BY c.id LIMIT ?2";
constexpr char kScanTags[] =
    "SELECT customer_id, dimension, value FROM customer_tags "
    "WHERE customer_id >= ?1 AND customer_id <= ?2 ORDER BY customer_id, dimension";
// One row per tag, or one row with NULLs for a customer without tags; no
// row at all for a missing customer.
constexpr char kSelectCustomerTags[] =
    "SELECT t.dimension, t.value FROM customers c LEFT JOIN customer_tags t "
    "ON t.customer_id = c.id WHERE c.id = ?1";
constexpr char kUpsertTag[] =
    "INSERT INTO customer_tags (customer_id, dimension, value) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (customer_id, dimension) DO UPDATE SET value = excluded.value";
constexpr char kDeleteTag[] = "DELETE FROM customer_tags WHERE customer_id = ?1 AND dimension = ?2";

constexpr size_t kKindBytesMax = 32;
constexpr size_t kActorBytesMax = 160;
constexpr size_t kSubjectBytesMax = 128;
constexpr size_t kOutcomeBytesMax = 256;
constexpr size_t kTagDimensionBytesMax = 64;
constexpr size_t kTagValueBytesMax = 256;
constexpr int kListLimitMax = 1000;

Status CheckText(std::string_view what, std::string_view value, size_t max_bytes,
                 bool may_be_empty) {
  if ((!may_be_empty && value.empty()) || value.size() > max_bytes) {
    return InvalidArgument(std::string(what) + " must be " + (may_be_empty ? "0" : "1") + ".." +
                           std::to_string(max_bytes) + " bytes");
  }
  return Status::Ok();
}

bool IsStatus(std::string_view s) {
  for (const char* known : {kApprovalFiling, kApprovalPending, kApprovalApplying,
                            kApprovalApproved, kApprovalPartiallyApproved, kApprovalRejected,
                            kApprovalExpired, kApprovalFailed}) {
    if (s == known) return true;
  }
  return false;
}

Status ValidateApproval(const ApprovalRecord& a) {
  RETURN_IF_ERROR(CheckText("approval id", a.id, kApprovalIdBytesMax, false));
  RETURN_IF_ERROR(CheckText("approval kind", a.kind, kKindBytesMax, false));
  if (!IsStatus(a.status)) return InvalidArgument("bad approval status");
  RETURN_IF_ERROR(CheckText("requested_by", a.requested_by, kActorBytesMax, false));
  RETURN_IF_ERROR(CheckText("requested_role", a.requested_role, kKindBytesMax, true));
  RETURN_IF_ERROR(CheckText("subject", a.subject, kSubjectBytesMax, true));
  RETURN_IF_ERROR(CheckText("summary", a.summary, kApprovalSummaryBytesMax, true));
  RETURN_IF_ERROR(CheckText("payload", a.payload, kApprovalPayloadBytesMax, true));
  RETURN_IF_ERROR(CheckText("decided_by", a.decided_by, kActorBytesMax, true));
  RETURN_IF_ERROR(CheckText("decided_role", a.decided_role, kKindBytesMax, true));
  RETURN_IF_ERROR(CheckText("comment", a.comment, kApprovalCommentBytesMax, true));
  RETURN_IF_ERROR(CheckText("outcome", a.outcome, kOutcomeBytesMax, true));
  if (a.item_count < 0 || a.items_chosen < 0 || a.items_applied < 0) {
    return InvalidArgument("approval counts must not be negative");
  }
  return Status::Ok();
}

ApprovalRecord ReadApprovalRow(const Statement& row) {
  ApprovalRecord a;
  a.id = row.ColumnBytes(0);
  a.kind = row.ColumnBytes(1);
  a.status = row.ColumnBytes(2);
  a.requested_by = row.ColumnBytes(3);
  a.requested_role = row.ColumnBytes(4);
  a.requested_at_us = row.ColumnInt64(5);
  a.expires_at_us = row.ColumnInt64(6);
  a.subject = row.ColumnBytes(7);
  a.summary = row.ColumnBytes(8);
  a.payload = row.ColumnBytes(9);
  a.item_count = row.ColumnInt64(10);
  a.decided_by = row.ColumnBytes(11);
  a.decided_role = row.ColumnBytes(12);
  a.decided_at_us = row.ColumnInt64(13);
  a.comment = row.ColumnBytes(14);
  a.items_chosen = row.ColumnInt64(15);
  a.items_applied = row.ColumnInt64(16);
  a.outcome = row.ColumnBytes(17);
  return a;
}

ApprovalItemRecord ReadItemRow(const Statement& row) {
  ApprovalItemRecord i;
  i.approval_id = row.ColumnBytes(0);
  i.seq = row.ColumnInt64(1);
  i.customer_id = row.ColumnBytes(2);
  i.summary = row.ColumnBytes(3);
  i.payload = row.ColumnBytes(4);
  i.chosen = row.ColumnInt64(5) != 0;
  i.applied = row.ColumnInt64(6) != 0;
  return i;
}

RulesVersionRecord ReadRulesRow(const Statement& row) {
  RulesVersionRecord r;
  r.version = row.ColumnInt64(0);
  r.text = row.ColumnBytes(1);
  r.status = row.ColumnBytes(2);
  r.created_by = row.ColumnBytes(3);
  r.created_at_us = row.ColumnInt64(4);
  r.approval_id = row.ColumnBytes(5);
  r.activated_at_us = row.ColumnInt64(6);
  return r;
}

struct ApprovalState {
  std::string status;
  int64_t item_count = 0;
  int64_t expires_at_us = 0;
};

Result<ApprovalState> ReadState(Connection& connection, const std::string& id) {
  ASSIGN_OR_RETURN(auto select, connection.Prepare(kSelectStatus, "read approval status"));
  select->BindText(1, id);
  ASSIGN_OR_RETURN(const bool has_row, select->Step());
  if (!has_row) return NotFound("no such approval");
  return ApprovalState{select->ColumnBytes(0), select->ColumnInt64(1), select->ColumnInt64(2)};
}

Result<std::vector<ApprovalRecord>> CollectApprovals(Statement& select) {
  std::vector<ApprovalRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(const bool has_row, select.Step());
    if (!has_row) break;
    out.push_back(ReadApprovalRow(select));
  }
  return out;
}

// Runs `work` in one write transaction on the shared writer.
Status Write(SqliteStore& base, const std::function<Status(Connection&)>& work) {
  return base.WithWriter([&work](Connection& writer) -> Status {
    Transaction transaction(writer);
    RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kWrite));
    RETURN_IF_ERROR(work(writer));
    return transaction.Commit();
  });
}

class SqliteApprovalStore final : public ApprovalStore {
 public:
  explicit SqliteApprovalStore(SqliteStore& base) : base_(base) {}

  Status InsertApproval(const ApprovalRecord& a) override {
    RETURN_IF_ERROR(ValidateApproval(a));
    return Write(base_, [&a](Connection& writer) -> Status {
      ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertApproval, "insert approval"));
      insert->BindText(1, a.id);
      insert->BindText(2, a.kind);
      insert->BindText(3, a.status);
      insert->BindText(4, a.requested_by);
      insert->BindText(5, a.requested_role);
      insert->BindInt64(6, a.requested_at_us);
      insert->BindInt64(7, a.expires_at_us);
      insert->BindText(8, a.subject);
      insert->BindText(9, a.summary);
      insert->BindBlob(10, a.payload);
      insert->BindInt64(11, a.item_count);
      insert->BindText(12, a.decided_by);
      insert->BindText(13, a.decided_role);
      insert->BindInt64(14, a.decided_at_us);
      insert->BindText(15, a.comment);
      insert->BindInt64(16, a.items_chosen);
      insert->BindInt64(17, a.items_applied);
      insert->BindText(18, a.outcome);
      Status status = insert->Run();
      if (status.code() == ErrorCode::kConflict) return Conflict("approval id exists");
      return status;
    });
  }

  Status AppendItems(const std::string& approval_id,
                     const std::vector<ApprovalItemRecord>& items) override {
    RETURN_IF_ERROR(CheckText("approval id", approval_id, kApprovalIdBytesMax, false));
    if (items.size() > kApprovalItemsPerWriteMax) {
      return TooLarge("at most " + std::to_string(kApprovalItemsPerWriteMax) +
                      " approval items per write");
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const ApprovalItemRecord& item = items[i];
      const std::string where = "item " + std::to_string(i) + ": ";
      Status s = CheckText(where + "customer id", item.customer_id, kCustomerIdBytesMax, true);
      if (s.ok()) s = CheckText(where + "summary", item.summary, kApprovalSummaryBytesMax, true);
      if (s.ok()) {
        s = CheckText(where + "payload", item.payload, kApprovalItemPayloadBytesMax, true);
      }
      RETURN_IF_ERROR(s);
    }
    if (items.empty()) return Status::Ok();
    return Write(base_, [&](Connection& writer) -> Status {
      ASSIGN_OR_RETURN(const ApprovalState state, ReadState(writer, approval_id));
      if (state.status != kApprovalFiling && state.status != kApprovalPending) {
        return Conflict("items can only be added while an approval is being filed");
      }
      int64_t next = state.item_count + 1;
      for (const ApprovalItemRecord& item : items) {
        if (item.seq != next) {
          return InvalidArgument("approval item seq must continue at " + std::to_string(next));
        }
        ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertItem, "insert approval item"));
        insert->BindText(1, approval_id);
        insert->BindInt64(2, item.seq);
        insert->BindText(3, item.customer_id);
        insert->BindText(4, item.summary);
        insert->BindBlob(5, item.payload);
        RETURN_IF_ERROR(insert->Run());
        ++next;
      }
      ASSIGN_OR_RETURN(auto count, writer.Prepare(kSetItemCount, "count approval items"));
      count->BindText(1, approval_id);
      count->BindInt64(2, next - 1);
      return count->Run();
    });
  }

  Result<ApprovalRecord> GetApproval(const std::string& id) override {
    RETURN_IF_ERROR(CheckText("approval id", id, kApprovalIdBytesMax, false));
    ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectApproval, "read approval"));
    select->BindText(1, id);
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) return NotFound("no such approval");
    return ReadApprovalRow(*select);
  }

  Result<std::vector<ApprovalRecord>> ListApprovals(const ApprovalFilter& filter,
                                                    const std::optional<ApprovalPosition>& after,
                                                    int limit) override {
    if (limit < 1 || limit > kListLimitMax) return InvalidArgument("limit must be 1..1000");
    std::string kinds;
    for (const std::string& kind : filter.kinds) {
      RETURN_IF_ERROR(CheckText("kind", kind, kKindBytesMax, false));
      if (kind.find(',') != std::string::npos) return InvalidArgument("bad kind");
      kinds += "," + kind;
    }
    if (!kinds.empty()) kinds += ",";
    const std::string status = filter.status.value_or("");
    const std::string requested_by = filter.requested_by.value_or("");
    const std::string subject = filter.subject.value_or("");
    RETURN_IF_ERROR(CheckText("status", status, kKindBytesMax, true));
    RETURN_IF_ERROR(CheckText("requested_by", requested_by, kActorBytesMax, true));
    RETURN_IF_ERROR(CheckText("subject", subject, kSubjectBytesMax, true));
    ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kListApprovals, "list approvals"));
    select->BindText(1, status);
    select->BindText(2, kinds);
    select->BindText(3, requested_by);
    select->BindInt64(4, filter.requested_by ? 1 : 0);
    select->BindText(5, subject);
    select->BindInt64(6, filter.subject ? 1 : 0);
    // Without a position every row qualifies: any time is below the maximum.
    const std::string after_id = after ? after->id : std::string();
    select->BindInt64(7, after ? after->requested_at_us : std::numeric_limits<int64_t>::max());
    select->BindText(8, after_id);
    select->BindInt64(9, limit);
    return CollectApprovals(*select);
  }

  Result<ApprovalItemPage> ListItems(const std::string& approval_id, int64_t after_seq, int limit,
                                     bool only_chosen) override {
    RETURN_IF_ERROR(CheckText("approval id", approval_id, kApprovalIdBytesMax, false));
    if (limit < 1 || limit > static_cast<int>(kApprovalItemsPerWriteMax)) {
      return InvalidArgument("limit must be 1.." + std::to_string(kApprovalItemsPerWriteMax));
    }
    ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kListItems, "list approval items"));
    select->BindText(1, approval_id);
    select->BindInt64(2, after_seq);
    select->BindInt64(3, only_chosen ? 1 : 0);
    select->BindInt64(4, static_cast<int64_t>(limit) + 1);
    ApprovalItemPage page;
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) break;
      if (static_cast<int>(page.items.size()) == limit) {
        page.next_seq = page.items.back().seq;
        break;
      }
      page.items.push_back(ReadItemRow(*select));
    }
    return page;
  }

  Result<std::vector<ApprovalRecord>> ListDue(int64_t now_us, int limit) override {
    if (limit < 1 || limit > kListLimitMax) return InvalidArgument("limit must be 1..1000");
    ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kListDue, "list due approvals"));
    select->BindInt64(1, now_us);
    select->BindInt64(2, limit);
    return CollectApprovals(*select);
  }

  Result<std::vector<ApprovalRecord>> ListInStatus(const std::string& status,
                                                   int limit) override {
    if (!IsStatus(status)) return InvalidArgument("bad approval status");
    if (limit < 1 || limit > kListLimitMax) return InvalidArgument("limit must be 1..1000");
    ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kListInStatus, "list approvals by status"));
    select->BindText(1, status);
    select->BindInt64(2, limit);
    return CollectApprovals(*select);
  }

  Status FinishFiling(const std::string& id, const std::string& summary) override {
    RETURN_IF_ERROR(CheckText("approval id", id, kApprovalIdBytesMax, false));
    RETURN_IF_ERROR(CheckText("summary", summary, kApprovalSummaryBytesMax, true));
    return ChangeStatus(kFinishFiling, id, summary, "approval is not being filed");
  }

  Status AbandonFiling(const std::string& id, const std::string& outcome) override {
    RETURN_IF_ERROR(CheckText("approval id", id, kApprovalIdBytesMax, false));
    RETURN_IF_ERROR(CheckText("outcome", outcome, kOutcomeBytesMax, true));
    return ChangeStatus(kAbandonFiling, id, outcome, "approval is not being filed");
  }

  Status Decide(const std::string& id, const std::string& to, const ApprovalRecord& decision,
                const std::vector<int64_t>& chosen_seqs, bool choose_all) override {
    RETURN_IF_ERROR(CheckText("approval id", id, kApprovalIdBytesMax, false));
    if (to != kApprovalApplying && to != kApprovalRejected && to != kApprovalExpired) {
      return InvalidArgument("a decision moves a pending approval to applying, rejected or expired");
    }
    RETURN_IF_ERROR(CheckText("decided_by", decision.decided_by, kActorBytesMax, false));
    RETURN_IF_ERROR(CheckText("decided_role", decision.decided_role, kKindBytesMax, true));
    RETURN_IF_ERROR(CheckText("comment", decision.comment, kApprovalCommentBytesMax, true));
    RETURN_IF_ERROR(CheckText("outcome", decision.outcome, kOutcomeBytesMax, true));
    const std::set<int64_t> chosen(chosen_seqs.begin(), chosen_seqs.end());
    return Write(base_, [&](Connection& writer) -> Status {
      ASSIGN_OR_RETURN(const ApprovalState state, ReadState(writer, id));
      if (state.status != kApprovalPending) {
        return Conflict("approval is " + state.status + ", not pending");
      }
      if (to != kApprovalExpired && decision.decided_at_us >= state.expires_at_us) {
        return Conflict("approval has expired");
      }
      for (int64_t seq : chosen) {
        if (seq < 1 || seq > state.item_count) {
          return InvalidArgument("no item " + std::to_string(seq) + " in this approval");
        }
      }
      const int64_t items_chosen = to != kApprovalApplying ? 0
                                   : choose_all ? state.item_count
                                                : static_cast<int64_t>(chosen.size());
      {
        ASSIGN_OR_RETURN(auto update, writer.Prepare(kDecide, "decide approval"));
        update->BindText(1, id);
        update->BindText(2, to);
        update->BindText(3, decision.decided_by);
        update->BindText(4, decision.decided_role);
        update->BindInt64(5, decision.decided_at_us);
        update->BindText(6, decision.comment);
        update->BindInt64(7, items_chosen);
        update->BindText(8, decision.outcome);
        RETURN_IF_ERROR(update->Run());
        if (writer.Changes() == 0) return Conflict("approval is not pending");
      }
      if (to != kApprovalApplying) return Status::Ok();
      if (choose_all) {
        ASSIGN_OR_RETURN(auto all, writer.Prepare(kChooseAll, "choose approval items"));
        all->BindText(1, id);
        return all->Run();
      }
      for (int64_t seq : chosen) {
        ASSIGN_OR_RETURN(auto one, writer.Prepare(kChooseOne, "choose approval item"));
        one->BindText(1, id);
        one->BindInt64(2, seq);
        RETURN_IF_ERROR(one->Run());
      }
      return Status::Ok();
    });
  }

  Status FinishApplying(const std::string& id, const std::string& final_status,
                        bool chosen_applied, const std::vector<int64_t>& skipped_seqs,
                        int64_t items_applied, const std::string& outcome) override {
    RETURN_IF_ERROR(CheckText("approval id", id, kApprovalIdBytesMax, false));
    if (final_status != kApprovalApproved && final_status != kApprovalPartiallyApproved &&
        final_status != kApprovalFailed) {
      return InvalidArgument("applying ends approved, partially_approved or failed");
    }
    RETURN_IF_ERROR(CheckText("outcome", outcome, kOutcomeBytesMax, true));
    if (items_applied < 0) return InvalidArgument("items_applied must not be negative");
    return Write(base_, [&](Connection& writer) -> Status {
      {
        ASSIGN_OR_RETURN(auto update, writer.Prepare(kFinishApplying, "finish applying"));
        update->BindText(1, id);
        update->BindText(2, final_status);
        update->BindInt64(3, items_applied);
        update->BindText(4, outcome);
        RETURN_IF_ERROR(update->Run());
        if (writer.Changes() == 0) return Conflict("approval is not being applied");
      }
      if (!chosen_applied) return Status::Ok();
      {
        ASSIGN_OR_RETURN(auto mark, writer.Prepare(kMarkChosenApplied, "mark items applied"));
        mark->BindText(1, id);
        RETURN_IF_ERROR(mark->Run());
      }
      for (int64_t seq : skipped_seqs) {
        ASSIGN_OR_RETURN(auto skip, writer.Prepare(kMarkSkipped, "mark item skipped"));
        skip->BindText(1, id);
        skip->BindInt64(2, seq);
        RETURN_IF_ERROR(skip->Run());
      }
      return Status::Ok();
    });
  }

 private:
  Status ChangeStatus(const char* sql, const std::string& id, const std::string& text,
                      const char* conflict) {
    return Write(base_, [&](Connection& writer) -> Status {
      ASSIGN_OR_RETURN(auto update, writer.Prepare(sql, "change approval status"));
      update->BindText(1, id);
      update->BindText(2, text);
      RETURN_IF_ERROR(update->Run());
      if (writer.Changes() == 0) {
        ASSIGN_OR_RETURN(const ApprovalState state, ReadState(writer, id));
        (void)state;
        return Conflict(conflict);
      }
      return Status::Ok();
    });
  }

  SqliteStore& base_;
};

Status ValidateTagMap(std::string_view what, const std::map<std::string, std::string>& tags) {
  if (tags.size() > 64) return InvalidArgument(std::string(what) + ": at most 64 tags");
  for (const auto& [dimension, value] : tags) {
    RETURN_IF_ERROR(CheckText(std::string(what) + " dimension", dimension,
                              kTagDimensionBytesMax, false));
    RETURN_IF_ERROR(CheckText(std::string(what) + " value", value, kTagValueBytesMax, false));
  }
  return Status::Ok();
}

class SqliteTagStore final : public TagStore {
 public:
  explicit SqliteTagStore(SqliteStore& base) : base_(base) {}

  Status InsertRulesVersion(const RulesVersionRecord& r) override {
    if (r.version < 1) return InvalidArgument("rules version must be at least 1");
    RETURN_IF_ERROR(CheckText("rules text", r.text, kRulesTextBytesMax, false));
    if (r.status != kRulesProposed && r.status != kRulesActive) {
      return InvalidArgument("a new rules version is proposed or (the first) active");
    }
    RETURN_IF_ERROR(CheckText("created_by", r.created_by, kActorBytesMax, false));
    RETURN_IF_ERROR(CheckText("approval id", r.approval_id, kApprovalIdBytesMax, true));
    return Write(base_, [&r](Connection& writer) -> Status {
      {
        ASSIGN_OR_RETURN(auto max, writer.Prepare(kMaxRulesVersion, "read rules versions"));
        ASSIGN_OR_RETURN(const bool has_row, max->Step());
        const int64_t current = has_row ? max->ColumnInt64(0) : 0;
        if (r.version != current + 1) {
          return Conflict("rules version " + std::to_string(r.version) + " is not the next (" +
                          std::to_string(current + 1) + ")");
        }
      }
      ASSIGN_OR_RETURN(auto insert, writer.Prepare(kInsertRules, "insert rules version"));
      insert->BindInt64(1, r.version);
      insert->BindText(2, r.text);
      insert->BindText(3, r.status);
      insert->BindText(4, r.created_by);
      insert->BindInt64(5, r.created_at_us);
      insert->BindText(6, r.approval_id);
      insert->BindInt64(7, r.activated_at_us);
      Status status = insert->Run();
      if (status.code() == ErrorCode::kConflict) {
        return Conflict("rules version exists, or another is active");
      }
      return status;
    });
  }

  Result<RulesVersionRecord> GetRulesVersion(int64_t version) override {
    ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectRules, "read rules version"));
    select->BindInt64(1, version);
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) return NotFound("no such rules version");
    return ReadRulesRow(*select);
  }

  Result<RulesVersionRecord> ActiveRulesVersion() override {
    ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kSelectActiveRules, "read active rules"));
    ASSIGN_OR_RETURN(const bool has_row, select->Step());
    if (!has_row) return NotFound("no active rules version");
    return ReadRulesRow(*select);
  }

  Result<std::vector<RulesVersionRecord>> ListRulesVersions(int limit) override {
    if (limit < 1 || limit > kListLimitMax) return InvalidArgument("limit must be 1..1000");
    ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
    ASSIGN_OR_RETURN(auto select, reader->Prepare(kListRules, "list rules versions"));
    select->BindInt64(1, limit);
    std::vector<RulesVersionRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(const bool has_row, select->Step());
      if (!has_row) break;
      out.push_back(ReadRulesRow(*select));
    }
    return out;
  }

  Status ActivateRulesVersion(int64_t version, int64_t activated_at_us) override {
    return Write(base_, [&](Connection& writer) -> Status {
      RulesVersionRecord current;
      {
        ASSIGN_OR_RETURN(auto select, writer.Prepare(kSelectRules, "read rules version"));
        select->BindInt64(1, version);
        ASSIGN_OR_RETURN(const bool has_row, select->Step());
        if (!has_row) return NotFound("no such rules version");
        current = ReadRulesRow(*select);
      }
      if (current.status == kRulesActive) return Status::Ok();
      if (current.status != kRulesProposed) return Conflict("rules version is superseded");
      {
        ASSIGN_OR_RETURN(auto supersede, writer.Prepare(kSupersedeActive, "supersede rules"));
        supersede->BindInt64(1, version);
        RETURN_IF_ERROR(supersede->Run());
      }
      ASSIGN_OR_RETURN(auto activate, writer.Prepare(kActivateRules, "activate rules"));
      activate->BindInt64(1, version);
      activate->BindInt64(2, activated_at_us);
      return activate->Run();
    });
  }

  Result<std::vector<ClassificationRow>> ScanForClassification(
      const std::string& after_id, int limit, const std::string& field_key) override {
    RETURN_IF_ERROR(ValidatePageLimit(limit));
    RETURN_IF_ERROR(CheckText("customer id", after_id, kCustomerIdBytesMax, true));
    RETURN_IF_ERROR(CheckText("field key", field_key, kFieldKeyBytesMax, true));
    ASSIGN_OR_RETURN(PooledConnection reader, base_.AcquireReader());
    Transaction transaction(*reader);
    RETURN_IF_ERROR(transaction.Begin(Transaction::Kind::kRead));
    std::vector<ClassificationRow> rows;
    rows.reserve(static_cast<size_t>(limit));
    {
      ASSIGN_OR_RETURN(auto select, reader->Prepare(kScanCustomers, "scan customers"));
      select->BindText(1, after_id);
      select->BindInt64(2, limit);
      while (true) {
        ASSIGN_OR_RETURN(const bool has_row, select->Step());
        if (!has_row) break;
        ClassificationRow row;
        row.id = select->ColumnBytes(0);
        if (!field_key.empty()) {
          Result<std::optional<std::string_view>> field =
              FindFieldInBlob(select->ColumnView(1), field_key);
          if (!field.ok()) return DataLoss("customer " + row.id + ": " + field.status().message());
          if (field->has_value()) row.field = std::string(**field);
        }
        if (!select->ColumnIsNull(2)) {
          row.kek_version = static_cast<uint32_t>(select->ColumnInt64(2));
          row.wrapped_key = select->ColumnBytes(3);
        }
        rows.push_back(std::move(row));
      }
    }
    if (!rows.empty()) {
      ASSIGN_OR_RETURN(auto tags, reader->Prepare(kScanTags, "scan tags"));
      tags->BindText(1, rows.front().id);
      tags->BindText(2, rows.back().id);
      size_t at = 0;  // both in id order: one merge pass
      while (true) {
        ASSIGN_OR_RETURN(const bool has_row, tags->Step());
        if (!has_row) break;
        const std::string_view customer = tags->ColumnView(0);
        while (at < rows.size() && rows[at].id < customer) ++at;
        if (at == rows.size()) break;
        if (rows[at].id != customer) continue;
        rows[at].tags.emplace_back(tags->ColumnBytes(1), tags->ColumnBytes(2));
      }
    }
    RETURN_IF_ERROR(transaction.Commit());
    return rows;
  }

  Result<std::vector<TagChangeOutcome>> ApplyTagChanges(const std::vector<TagChange>& changes,
                                                        int64_t updated_at_us) override {
    std::vector<TagChangeOutcome> outcomes(changes.size(), TagChangeOutcome::kMissing);
    bool given = false;
    RETURN_IF_ERROR(ApplyTagChangesStreamed(
        [&](std::vector<TagChange>* page) -> Result<bool> {
          if (!given) *page = changes;
          given = true;
          return false;
        },
        [&](size_t index, TagChangeOutcome outcome) {
          outcomes[index] = outcome;
          return Status::Ok();
        },
        updated_at_us));
    return outcomes;
  }

  Status ApplyTagChangesStreamed(const TagChangePager& next_page,
                                 const TagOutcomeSink& on_outcome,
                                 int64_t updated_at_us) override {
    return Write(base_, [&](Connection& writer) -> Status {
      std::vector<TagChange> page;
      bool more = true;
      while (more) {
        page.clear();
        ASSIGN_OR_RETURN(more, next_page(&page));
        if (page.size() > kTagChangesPerWriteMax) {
          return TooLarge("at most " + std::to_string(kTagChangesPerWriteMax) +
                          " tag changes per page");
        }
        // Every change of the page is checked before any of it is written.
        for (size_t i = 0; i < page.size(); ++i) {
          const std::string where = "tag change " + std::to_string(i);
          RETURN_IF_ERROR(
              CheckText(where + ": customer id", page[i].customer_id, kCustomerIdBytesMax, false));
          RETURN_IF_ERROR(ValidateTagMap(where + ": expected", page[i].expected));
          RETURN_IF_ERROR(ValidateTagMap(where + ": target", page[i].target));
        }
        for (size_t i = 0; i < page.size(); ++i) {
          ASSIGN_OR_RETURN(const TagChangeOutcome outcome, ApplyOne(writer, page[i], updated_at_us));
          RETURN_IF_ERROR(on_outcome(i, outcome));
        }
      }
      return Status::Ok();
    });
  }

 private:
  static Result<TagChangeOutcome> ApplyOne(Connection& writer, const TagChange& change,
                                           int64_t updated_at_us) {
    std::map<std::string, std::string> current;
    {
      ASSIGN_OR_RETURN(auto tags, writer.Prepare(kSelectCustomerTags, "read tags"));
      tags->BindText(1, change.customer_id);
      bool found = false;
      while (true) {
        ASSIGN_OR_RETURN(const bool has_row, tags->Step());
        if (!has_row) break;
        found = true;
        if (!tags->ColumnIsNull(0)) current[tags->ColumnBytes(0)] = tags->ColumnBytes(1);
      }
      if (!found) return TagChangeOutcome::kMissing;
    }
    // Compare on the dimensions the change is about (those of either map).
    std::set<std::string> dimensions;
    for (const auto& [d, v] : change.expected) dimensions.insert(d);
    for (const auto& [d, v] : change.target) dimensions.insert(d);
    auto matches = [&](const std::map<std::string, std::string>& wanted) {
      for (const std::string& d : dimensions) {
        const auto have = current.find(d);
        const auto want = wanted.find(d);
        const bool have_it = have != current.end();
        const bool want_it = want != wanted.end();
        if (have_it != want_it) return false;
        if (have_it && have->second != want->second) return false;
      }
      return true;
    };
    if (matches(change.target)) return TagChangeOutcome::kAlreadyApplied;
    if (!matches(change.expected)) return TagChangeOutcome::kStale;
    for (const std::string& d : dimensions) {
      const auto want = change.target.find(d);
      if (want != change.target.end()) {
        ASSIGN_OR_RETURN(auto upsert, writer.Prepare(kUpsertTag, "set tag"));
        upsert->BindText(1, change.customer_id);
        upsert->BindText(2, d);
        upsert->BindText(3, want->second);
        RETURN_IF_ERROR(upsert->Run());
      } else {
        ASSIGN_OR_RETURN(auto remove, writer.Prepare(kDeleteTag, "remove tag"));
        remove->BindText(1, change.customer_id);
        remove->BindText(2, d);
        RETURN_IF_ERROR(remove->Run());
      }
    }
    // The customer row itself is not touched (its updated_at is about its
    // fields): rewriting a million customer rows would cost the change
    // journal a copy of each whole row in the applying transaction.
    (void)updated_at_us;
    return TagChangeOutcome::kApplied;
  }

  SqliteStore& base_;
};

}  // namespace
}  // namespace sqlite

Result<std::unique_ptr<ApprovalStore>> OpenSqliteApprovalStore(Store& store) {
  auto* sqlite_store = dynamic_cast<sqlite::SqliteStore*>(&store);
  if (sqlite_store == nullptr) {
    return InvalidArgument("the approval store needs the store from OpenSqliteStore");
  }
  return std::unique_ptr<ApprovalStore>(new sqlite::SqliteApprovalStore(*sqlite_store));
}

Result<std::unique_ptr<TagStore>> OpenSqliteTagStore(Store& store) {
  auto* sqlite_store = dynamic_cast<sqlite::SqliteStore*>(&store);
  if (sqlite_store == nullptr) {
    return InvalidArgument("the tag store needs the store from OpenSqliteStore");
  }
  return std::unique_ptr<TagStore>(new sqlite::SqliteTagStore(*sqlite_store));
}

}  // namespace custvault::store
