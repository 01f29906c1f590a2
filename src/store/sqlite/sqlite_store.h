// SqliteStore: the Store on one SQLite file (WAL mode).
//
// One writer connection, guarded by a lease, runs every write, so writes
// are serialised in this process and never meet SQLITE_BUSY from one
// another; `readers` read-only connections in a bounded pool serve reads,
// which in WAL mode run beside the writer without blocking it. Every method
// is safe to call from many threads.
//
// Group commit: single-row writes (InsertCustomer, UpdateCustomer,
// DeleteCustomer) that arrive while another is being committed wait in a
// queue; the next caller to find no batch running becomes its leader, takes
// up to kGroupCommitWritesMax queued writes, runs each in its own SAVEPOINT
// inside ONE write transaction (a write that fails is rolled back alone and
// its caller gets its own error) and commits once, so one WAL fsync serves
// the whole group. Every caller returns only after its write is durable.
//
// Pragmas and their reasons are in docs/formats/database-schema.md.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <variant>
#include <vector>

#include "store/sqlite/connection.h"
#include "store/sqlite/connection_pool.h"
#include "store/store.h"

namespace custvault::store::sqlite {

class SqliteStore final : public Store {
 public:
  // Most single-row writes one group commit takes (the rest wait for the
  // next group).
  static constexpr size_t kGroupCommitWritesMax = 256;

  static Result<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& options);
  ~SqliteStore() override = default;

  Status Migrate() override;
  Result<int> SchemaVersion() override;

  Status PutKey(const StoredKey& key) override;
  Result<std::vector<StoredKey>> ListKeys() override;

  Status PutSetting(const std::string& name, const std::string& value) override;
  Result<std::optional<std::string>> GetSetting(const std::string& name) override;

  Status InsertCustomer(const CustomerRecord& record, AuditOutboxEntry* audit = nullptr) override;
  Status InsertCustomers(const std::vector<CustomerRecord>& records,
                         AuditOutboxEntry* audit = nullptr) override;
  Result<std::vector<std::string>> ExistingCustomerIds(
      const std::vector<std::string>& ids) override;
  Result<CustomerRecord> GetCustomer(const std::string& id) override;
  Result<CustomerPage> ListCustomers(const std::optional<std::pair<std::string, std::string>>& tag,
                                     const std::optional<std::string>& cursor, int limit) override;
  Result<CustomerPage> FindByBlindIndex(const std::string& field_key, const std::string& digest,
                                        const std::optional<std::string>& cursor,
                                        int limit) override;
  Status UpdateCustomer(const CustomerUpdate& update, AuditOutboxEntry* audit = nullptr) override;
  Status DeleteCustomer(const std::string& id, AuditOutboxEntry* audit = nullptr) override;
  Result<int64_t> CountCustomers() override;

  Result<std::vector<AuditOutboxEntry>> AuditOutbox(int64_t after_id, int limit) override;
  Status DeleteAuditOutboxThrough(int64_t through_id) override;
  void AuditOutboxChained(int64_t id) override;

  // Writes `audit` (if not null) to the audit outbox on `writer`, inside
  // the caller's open write transaction, after first deleting the rows
  // AuditOutboxChained named. `record_id` goes to audit->details_for_id.
  // Only by the holder of the writer (this store's writes, WithWriter).
  Status WriteAuditOutbox(Connection& writer, AuditOutboxEntry* audit, int64_t record_id = 0);

  // Copies the WAL into the database file and truncates the WAL to zero
  // bytes. kUnavailable if readers kept it from finishing within the busy
  // timeout. DeleteCustomer calls it (best effort) so a shredded customer's
  // old pages do not linger in the WAL.
  Status Checkpoint();

  // Borrows a reader from the pool (for tests and maintenance tools); it
  // counts against the pool until destroyed.
  Result<PooledConnection> AcquireReader() { return readers_->Acquire(); }

  // Runs `work` with the writer connection held exclusively (waiting as
  // every write does), for stores that keep their tables in this file and
  // share its connections (store/identity_store.h). `work` opens and
  // commits its own transaction; every write transaction of the writer is
  // recorded in the change journal (store/sqlite/change_journal.h), and a
  // write statement run outside a Transaction gets one of its own.
  Status WithWriter(const std::function<Status(Connection&)>& work);

  // Appends to every shred ledger file (the data directory's and the copies
  // in the backup locations) every entry of the shredded_customers table it
  // lacks (after a crash between a delete's commit and its append, or a
  // failed append), with an "@as-of" claim. Open calls it; a no-op without
  // a ledger path.
  Status SyncShredLedger();

 private:
  SqliteStore(std::unique_ptr<Connection> writer, std::unique_ptr<ConnectionPool> readers,
              std::chrono::milliseconds writer_wait_timeout, Env* env,
              ShredLedgerSet shred_ledgers)
      : writer_(std::move(writer)),
        readers_(std::move(readers)),
        writer_wait_timeout_(writer_wait_timeout),
        env_(env),
        shred_ledgers_(std::move(shred_ledgers)) {}

  // Exclusive use of the writer connection, waited for up to
  // writer_wait_timeout_. (A flag + condition variable rather than
  // std::timed_mutex: GCC 12's timed_mutex locks through
  // pthread_mutex_clocklock, which ThreadSanitizer does not see, so every
  // unlock was reported as a false "unlock of an unlocked mutex".)
  class WriterLease {
   public:
    explicit WriterLease(SqliteStore* store) : store_(store) {}
    WriterLease(WriterLease&& other) noexcept : store_(std::exchange(other.store_, nullptr)) {}
    WriterLease& operator=(WriterLease&&) = delete;
    ~WriterLease();

   private:
    SqliteStore* store_;
  };
  Result<WriterLease> LockWriter();
  Status CheckpointLocked(int reader_wait_ms);
  // Installs the change journal on the writer when migration 6 is applied.
  Status EnableJournalLocked();
  Status SyncShredLedgerLocked();
  // Every entry of the shredded_customers table.
  Result<std::vector<ShredEntry>> ShreddedLocked();

  // One single-row write waiting for (or in) a group commit. Lives on its
  // caller's stack until `done`.
  struct PendingWrite {
    std::variant<const CustomerRecord*, const CustomerUpdate*, const std::string*> write;
    AuditOutboxEntry* audit = nullptr;  // written in the same savepoint
    Status status;
    bool done = false;  // guarded by group_mutex_
  };
  // Queues the write and returns its own Status once its group committed
  // (or failed).
  Status SubmitSingleRowWrite(PendingWrite& write);
  // Leader's work: one transaction for the batch, a savepoint per write.
  void CommitGroup(const std::vector<PendingWrite*>& batch);

  std::mutex writer_mutex_;
  std::condition_variable writer_released_;
  bool writer_in_use_ = false;          // guarded by writer_mutex_
  std::unique_ptr<Connection> writer_;  // used only by the holder of a WriterLease
  std::unique_ptr<ConnectionPool> readers_;
  const std::chrono::milliseconds writer_wait_timeout_;
  Env* const env_;
  ShredLedgerSet shred_ledgers_;  // guarded by the writer lease

  std::mutex group_mutex_;
  std::condition_variable group_done_;
  std::deque<PendingWrite*> group_queue_;  // guarded by group_mutex_
  bool group_leader_active_ = false;       // guarded by group_mutex_

  std::mutex chained_mutex_;
  std::vector<int64_t> chained_outbox_;  // guarded by chained_mutex_
};

}  // namespace custvault::store::sqlite
