// ApprovalStore: the maker-checker approvals of R-APR-1 as stored: one row
// per approval, its items (a tag batch lists one item per customer), and
// its decisions. Nothing is ever deleted: there is no delete method, and
// the rows stay after the approval is decided, expired or failed.
//
// The store sees only ids, roles, times, one-line summaries with masked
// values, and opaque payloads (a handler's own bytes; a sensitive edit's
// payload is ciphertext sealed with the customer's key).
//
// Status changes are conditional ("from -> to"), so two deciders racing
// for the same approval cannot both win: the loser gets kConflict.
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace custvault::store {

// Limits checked by the store before anything is written (kInvalidArgument).
inline constexpr size_t kApprovalIdBytesMax = 64;
inline constexpr size_t kApprovalSummaryBytesMax = 512;
inline constexpr size_t kApprovalPayloadBytesMax = 1 << 20;      // 1 MiB
inline constexpr size_t kApprovalItemPayloadBytesMax = 64 << 10;  // 64 KiB
inline constexpr size_t kApprovalCommentBytesMax = 1024;
inline constexpr size_t kApprovalItemsPerWriteMax = 10000;

// Approval statuses (docs/approvals.md):
//   filing             a batch whose items are still being written; not decidable
//   pending            waiting for a decision
//   applying           approved; being applied (a crash here is finished at the next open)
//   approved           approved and applied (every item, for a batch)
//   partially_approved a chosen subset of a batch approved and applied; the rest refused
//   rejected           refused; nothing applied
//   expired            not decided before expires_at; nothing applied
//   failed             approved but could not be applied (e.g. the customer was
//                      deleted meanwhile), or a filing interrupted by a crash;
//                      nothing applied; `outcome` says why
inline constexpr char kApprovalFiling[] = "filing";
inline constexpr char kApprovalPending[] = "pending";
inline constexpr char kApprovalApplying[] = "applying";
inline constexpr char kApprovalApproved[] = "approved";
inline constexpr char kApprovalPartiallyApproved[] = "partially_approved";
inline constexpr char kApprovalRejected[] = "rejected";
inline constexpr char kApprovalExpired[] = "expired";
inline constexpr char kApprovalFailed[] = "failed";

struct ApprovalRecord {
  std::string id;              // "a_" + random (identity::NewId)
  std::string kind;            // policy::ApprovalKindName: "tag_batch", ...
  std::string status = kApprovalPending;
  std::string requested_by;    // actor id of the maker (account id, or "job:<name>")
  std::string requested_role;  // RoleName of the maker ("" for a job)
  int64_t requested_at_us = 0;
  int64_t expires_at_us = 0;
  std::string subject;   // what it is about, for filters: a customer id, a rules
                         // version, a backup id; "" for a batch. Never personal data.
  std::string summary;   // one line, masked values only
  std::string payload;   // the handler's opaque bytes
  int64_t item_count = 0;
  // The decision (empty until decided; an expiry records "system").
  std::string decided_by;
  std::string decided_role;
  int64_t decided_at_us = 0;
  std::string comment;
  int64_t items_chosen = 0;   // items the decider approved
  int64_t items_applied = 0;  // of those, applied
  std::string outcome;        // short machine note: "applied", "customer_deleted", ...
};

struct ApprovalItemRecord {
  std::string approval_id;
  int64_t seq = 0;          // 1.. in filing order; the item id is its decimal form
  std::string customer_id;  // "" when not about a customer
  std::string summary;      // masked values only
  std::string payload;      // the handler's opaque bytes for this item
  bool chosen = false;      // approved by the decider
  bool applied = false;     // applied (false for a chosen item skipped as stale)
};

struct ApprovalFilter {
  std::optional<std::string> status;
  std::vector<std::string> kinds;           // empty: every kind
  std::optional<std::string> requested_by;  // only this maker's
  std::optional<std::string> subject;       // only about this (e.g. a customer id)
};

// A place in the newest-first order (requested_at_us desc, id desc).
struct ApprovalPosition {
  int64_t requested_at_us = 0;
  std::string id;
};

struct ApprovalItemPage {
  std::vector<ApprovalItemRecord> items;
  std::optional<int64_t> next_seq;  // absent on the last page
};

class ApprovalStore {
 public:
  virtual ~ApprovalStore() = default;

  // kConflict if the id exists.
  virtual Status InsertApproval(const ApprovalRecord& approval) = 0;
  // Appends items (seq must continue the approval's sequence) and raises
  // item_count, in one transaction; at most kApprovalItemsPerWriteMax.
  virtual Status AppendItems(const std::string& approval_id,
                             const std::vector<ApprovalItemRecord>& items) = 0;
  virtual Result<ApprovalRecord> GetApproval(const std::string& id) = 0;  // kNotFound
  // Newest first (requested_at_us desc, id desc), strictly after `after`
  // in that order when given; at most `limit` (1..1000). Payloads are not
  // read (empty in the result).
  virtual Result<std::vector<ApprovalRecord>> ListApprovals(
      const ApprovalFilter& filter, const std::optional<ApprovalPosition>& after, int limit) = 0;
  // Items with seq > after_seq, in seq order; only_chosen filters.
  virtual Result<ApprovalItemPage> ListItems(const std::string& approval_id, int64_t after_seq,
                                             int limit, bool only_chosen) = 0;
  // Pending approvals with expires_at_us <= now_us (oldest first, at most limit).
  virtual Result<std::vector<ApprovalRecord>> ListDue(int64_t now_us, int limit) = 0;
  // Approvals in `status` (e.g. every "applying" one at open), oldest first.
  virtual Result<std::vector<ApprovalRecord>> ListInStatus(const std::string& status,
                                                           int limit) = 0;

  // filing -> pending with its final summary; kConflict unless filing.
  virtual Status FinishFiling(const std::string& id, const std::string& summary) = 0;
  // pending -> `to` (applying | rejected | expired) with the decision
  // fields of `decision`, and for "applying" the chosen flags of the items
  // whose seq is in `chosen_seqs` (all items when `choose_all`), in one
  // transaction. kConflict unless pending (and, for applying/rejected,
  // not past expires_at_us at `decision.decided_at_us`).
  virtual Status Decide(const std::string& id, const std::string& to,
                        const ApprovalRecord& decision, const std::vector<int64_t>& chosen_seqs,
                        bool choose_all) = 0;
  // applying -> final (approved | partially_approved | failed) with the
  // counts, in one transaction: when `chosen_applied`, every chosen item
  // is marked applied except those in `skipped_seqs`. kConflict unless
  // applying.
  virtual Status FinishApplying(const std::string& id, const std::string& final_status,
                                bool chosen_applied, const std::vector<int64_t>& skipped_seqs,
                                int64_t items_applied, const std::string& outcome) = 0;
  // filing -> failed (a filing interrupted by a crash, or abandoned).
  virtual Status AbandonFiling(const std::string& id, const std::string& outcome) = 0;
};

// The ApprovalStore on the SQLite file of `store` (which must come from
// OpenSqliteStore and outlive it), sharing its connections.
Result<std::unique_ptr<ApprovalStore>> OpenSqliteApprovalStore(Store& store);

}  // namespace custvault::store
