// AuditStore: where the audit log (R-AUD) keeps its entries, checkpoints,
// head, alerts and the IPs each account has logged in from. The audit log
// has its own store, apart from the customer Store, so its group commits
// never wait behind customer writes and its retention is independent
// (docs/formats/audit-chain.md).
//
// The store keeps rows; it knows nothing of hashing or MACs (audit/ does).
// Thread safety: every method may be called from many threads; writes are
// serialised inside the implementation.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace custvault::store {

// The audit log's own file in the data directory (whichever store keeps it).
inline constexpr char kAuditDatabaseFileName[] = "audit.db";

// Longest value of each text column the audit log accepts (bytes).
inline constexpr size_t kAuditActorIdBytesMax = 128;
inline constexpr size_t kAuditRoleBytesMax = 32;
inline constexpr size_t kAuditIpBytesMax = 64;
inline constexpr size_t kAuditOperationBytesMax = 32;
inline constexpr size_t kAuditCustomerIdBytesMax = 128;
inline constexpr size_t kAuditResultBytesMax = 16;
inline constexpr size_t kAuditDetailsBytesMax = 8192;
inline constexpr int kAuditPageLimitMax = 1000;
inline constexpr int kAlertPageLimitMax = 1000;

struct AuditEntryRow {
  int64_t seq = 0;
  int64_t time_us = 0;
  std::string actor_id;
  std::string actor_role;
  std::string source_ip;
  std::string operation;
  std::string customer_id;  // "" when the operation is not about one customer
  std::string result;
  std::string details;    // JSON object text
  std::string prev_hash;  // 32 bytes
  std::string hash;       // 32 bytes
  // Not part of the entry (neither stored in audit_entries nor hashed):
  // the token of the audit outbox row this entry was first written as, in
  // the data database, in the same transaction as its change. AppendBatch
  // records the token as chained in the same commit as the entry, so the
  // recovery at open never chains it twice. "" for an entry appended
  // directly.
  std::string outbox_token;
};

// An audit entry written into the data database (its audit outbox) in the
// SAME transaction as the change it records, so the change and its entry
// are durable together or not at all (R-AUD-6, docs/formats/audit-chain.md
// "A change and its entry"). The audit log then chains it into audit.db;
// one a crash left unchained is chained at the next open.
struct AuditOutboxEntry {
  AuditEntryRow row;  // as audit::PrepareRow made it: no seq, time or hashes
  // For a record whose id the insert assigns: called inside the write's
  // transaction with that id, returns the details text stored instead of
  // row.details (the caller keeps it within kAuditDetailsBytesMax).
  std::function<std::string(int64_t record_id)> details_for_id;
  // Set by the store when the row is written:
  int64_t id = 0;      // the outbox row (ascending in commit order)
  std::string token;   // 16 random bytes naming the entry in audit.db
  int64_t written_at_us = 0;
};

// The same entry as views into the store's buffers, for streaming reads
// (verification) without a copy per entry. Valid only during the callback.
struct AuditEntryView {
  int64_t seq = 0;
  int64_t time_us = 0;
  std::string_view actor_id;
  std::string_view actor_role;
  std::string_view source_ip;
  std::string_view operation;
  std::string_view customer_id;
  std::string_view result;
  std::string_view details;
  std::string_view prev_hash;
  std::string_view hash;
};

struct AuditCheckpointRow {
  int64_t seq = 0;  // the entry whose hash this checkpoint signs
  std::string hash;
  int64_t time_us = 0;
  std::string kind;          // "periodic" | "purge" | "shutdown"
  uint32_t key_version = 0;  // version of the audit key that made the MAC
  std::string mac;
};

// The last entry written, MACed: updated in the same transaction as every
// batch, so a truncated tail no longer matches it.
struct AuditHeadRow {
  int64_t seq = 0;
  std::string hash;
  int64_t time_us = 0;
  uint32_t key_version = 0;
  std::string mac;
};

struct AlertRow {
  int64_t id = 0;
  std::string rule;
  std::string actor_id;
  int64_t time_us = 0;
  std::string summary;          // no personal data: counts, operations, ids, IPs
  std::string acknowledged_by;  // "" until acknowledged
  int64_t acknowledged_at_us = 0;
};

// Search filters; an empty/absent filter matches everything. Results are in
// seq order, after `after_seq` (the cursor), at most `limit`.
struct AuditQuery {
  std::string actor_id;
  std::string customer_id;
  std::string operation;
  std::string source_ip;
  std::optional<int64_t> from_us;  // inclusive
  std::optional<int64_t> to_us;    // exclusive
  int64_t after_seq = 0;
  int limit = 100;  // 1..kAuditPageLimitMax
};

// The head and checkpoints as of the snapshot a scan reads.
struct AuditChainSnapshot {
  std::optional<AuditHeadRow> head;
  std::vector<AuditCheckpointRow> checkpoints;  // seq order
};

// A login seen for an account from an IP (for the new-IP alert).
struct LoginIpRow {
  std::string actor_id;
  std::string source_ip;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;

  // Writes `entries` (already chained, seq ascending and continuing the
  // stored log), then `checkpoints`, `login_ips` (ignored when already
  // known) and the head, in ONE transaction that is durable (fsynced) when
  // this returns OK. On failure nothing of it is stored. kConflict when the
  // stored head is not at head.seq - entries.size() (another writer moved
  // it; reload the head and chain again).
  virtual Status AppendBatch(std::span<const AuditEntryRow> entries,
                             std::span<const AuditCheckpointRow> checkpoints,
                             std::span<const LoginIpRow> login_ips, const AuditHeadRow& head) = 0;

  virtual Result<std::optional<AuditHeadRow>> Head() = 0;
  // The entry with the highest seq, if any.
  virtual Result<std::optional<AuditEntryRow>> LastEntry() = 0;
  virtual Result<std::optional<AuditEntryRow>> FirstEntry() = 0;
  virtual Result<int64_t> EntryCount() = 0;

  // Calls `visit` for every entry with seq >= from_seq in seq order, on one
  // read transaction (a consistent snapshot). When `snapshot` is given, the
  // head and checkpoints of the same snapshot are stored there before the
  // first visit. Stops early and returns the status when `visit` returns an
  // error.
  virtual Status ScanEntries(int64_t from_seq, AuditChainSnapshot* snapshot,
                             const std::function<Status(const AuditEntryView&)>& visit) = 0;

  // Every checkpoint, in seq order (a few per thousand entries).
  virtual Result<std::vector<AuditCheckpointRow>> Checkpoints() = 0;

  virtual Result<std::vector<AuditEntryRow>> Search(const AuditQuery& query) = 0;

  // The highest seq whose time_us < before_us, if any.
  virtual Result<std::optional<int64_t>> LastSeqBefore(int64_t before_us) = 0;
  // In one transaction: stores `purge_checkpoint` (which signs the entry
  // last_seq) and deletes every entry with seq <= last_seq. Returns the
  // number of entries deleted. The database itself refuses to delete an
  // entry younger than the retention minimum (a trigger).
  virtual Result<int64_t> Purge(int64_t last_seq, const AuditCheckpointRow& purge_checkpoint) = 0;

  virtual Result<std::vector<LoginIpRow>> LoginIps(int limit) = 0;

  // ---- the audit outbox's chained set (docs/formats/audit-chain.md) ----
  // Which of `tokens` AppendBatch has recorded as chained (at most
  // kAuditOutboxTokensQueryMax per call).
  static constexpr size_t kAuditOutboxTokensQueryMax = 1000;
  virtual Result<std::vector<std::string>> ChainedOutboxTokens(
      const std::vector<std::string>& tokens) = 0;
  // Forgets chained tokens recorded before `before_us` (their outbox rows
  // are gone); returns how many.
  virtual Result<int64_t> PruneChainedOutboxTokens(int64_t before_us) = 0;

  virtual Result<int64_t> InsertAlert(const AlertRow& alert) = 0;
  // Alerts with id > after_id, oldest first.
  virtual Result<std::vector<AlertRow>> Alerts(bool unacknowledged_only, int64_t after_id,
                                               int limit) = 0;
  // kNotFound if no such alert; kConflict if it was acknowledged already.
  virtual Status AcknowledgeAlert(int64_t id, std::string_view by, int64_t at_us) = 0;
};

}  // namespace custvault::store
