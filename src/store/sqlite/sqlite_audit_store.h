// SqliteAuditStore: the AuditStore on its own SQLite file (audit.db in the
// data directory), in WAL mode with synchronous=FULL, so every committed
// batch is fsynced before AppendBatch returns.
//
// One writer connection (behind a mutex: the audit writer thread is its
// main user) and a small pool of read-only connections for search, scans
// and alerts. Triggers make the log append-only: UPDATE of an entry or a
// checkpoint aborts, DELETE of a checkpoint aborts, and DELETE of an entry
// younger than kAuditRetentionDaysMin aborts even when this code asks for
// it (docs/formats/audit-chain.md lists the schema).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/audit_store.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/connection_pool.h"

namespace custvault::store::sqlite {

// The youngest an entry may be for the database to let it be deleted:
// three years and a day (R-AUD-3). Built into the trigger.
inline constexpr int kAuditRetentionDaysMin = 1096;
using store::kAuditDatabaseFileName;

struct SqliteAuditOptions {
  std::string path;
  int readers = 2;
  int busy_timeout_ms = 5000;
};

class SqliteAuditStore final : public AuditStore {
 public:
  // Creates the file (mode 0600) and the schema when missing.
  static Result<std::unique_ptr<SqliteAuditStore>> Open(const SqliteAuditOptions& options);
  ~SqliteAuditStore() override = default;

  Status AppendBatch(std::span<const AuditEntryRow> entries,
                     std::span<const AuditCheckpointRow> checkpoints,
                     std::span<const LoginIpRow> login_ips, const AuditHeadRow& head) override;
  Result<std::optional<AuditHeadRow>> Head() override;
  Result<std::optional<AuditEntryRow>> LastEntry() override;
  Result<std::optional<AuditEntryRow>> FirstEntry() override;
  Result<int64_t> EntryCount() override;
  Status ScanEntries(int64_t from_seq, AuditChainSnapshot* snapshot,
                     const std::function<Status(const AuditEntryView&)>& visit) override;
  Result<std::vector<AuditCheckpointRow>> Checkpoints() override;
  Result<std::vector<AuditEntryRow>> Search(const AuditQuery& query) override;
  Result<std::optional<int64_t>> LastSeqBefore(int64_t before_us) override;
  Result<int64_t> Purge(int64_t last_seq, const AuditCheckpointRow& purge_checkpoint) override;
  Result<std::vector<LoginIpRow>> LoginIps(int limit) override;
  Result<std::vector<std::string>> ChainedOutboxTokens(
      const std::vector<std::string>& tokens) override;
  Result<int64_t> PruneChainedOutboxTokens(int64_t before_us) override;
  Result<int64_t> InsertAlert(const AlertRow& alert) override;
  Result<std::vector<AlertRow>> Alerts(bool unacknowledged_only, int64_t after_id,
                                       int limit) override;
  Status AcknowledgeAlert(int64_t id, std::string_view by, int64_t at_us) override;

 private:
  SqliteAuditStore(std::unique_ptr<Connection> writer, std::unique_ptr<ConnectionPool> readers)
      : writer_(std::move(writer)), readers_(std::move(readers)) {}

  std::mutex writer_mutex_;
  std::unique_ptr<Connection> writer_;  // guarded by writer_mutex_
  std::unique_ptr<ConnectionPool> readers_;
};

}  // namespace custvault::store::sqlite
