// AuditLog: the writer of the tamper-evident audit log (R-AUD-1, -2, -3, -5).
//
// Append blocks until its entry is durable: callers put their entry on a
// bounded queue; one writer thread takes up to batch_max waiting entries,
// chains them (hash = SM3(prev_hash || canonical entry)), and writes them
// with the MACed head (and a checkpoint when one is due) in ONE fsynced
// transaction, then wakes every caller of the batch (group commit: one
// fsync serves many requests). If the write fails, every caller of the
// batch gets the error and the chain head is reloaded from the database,
// so the operation being audited must fail too: no audit, no access.
//
// After commit the writer feeds each entry to the alert rules (alerts.h),
// stores raised alerts and hands them to the optional webhook.
//
// Ownership: the log owns its store; the keyring and env must outlive it.
// Thread safety: every public method may be called from many threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>

#include "audit/alerts.h"
#include "audit/entry.h"
#include "audit/webhook.h"
#include "common/config.h"
#include "common/env.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "store/audit_store.h"

namespace custvault::audit {

inline constexpr int kLoginIpsSeedMax = 1'000'000;

struct AuditLogOptions {
  AuditConfig config;
  int utc_offset_seconds = 8 * 3600;
};

struct PurgeReport {
  int64_t deleted = 0;
  int64_t last_deleted_seq = 0;  // 0 when nothing was old enough
};

struct AuditLogStats {
  int64_t entries = 0;  // appended since open
  int64_t batches = 0;
  int64_t failed_batches = 0;
  int64_t checkpoints = 0;
  int64_t alerts = 0;
  int64_t head_seq = 0;
};

class AuditLog {
 public:
  // Loads the head (checking its MAC and that the last entry matches it:
  // kDataLoss otherwise; run `custvault audit verify`), seeds the alert
  // rules with known login IPs and starts the writer. kInvalidArgument for
  // bad [audit] settings; kNotFound if no audit key is loaded.
  static Result<std::unique_ptr<AuditLog>> Open(Env* env, std::unique_ptr<store::AuditStore> store,
                                                const crypto::Keyring* keyring,
                                                const AuditLogOptions& options);
  ~AuditLog();  // Close()
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Records one event and returns its seq once it is on disk.
  // kUnavailable at once when queue_max entries are waiting or the log is
  // closed; kInvalidArgument / kTooLarge for a malformed event; the write's
  // own error if the batch could not be committed.
  Result<int64_t> Append(const AuditEvent& event);

  // Records an entry that was first written to the data database's audit
  // outbox with its change (R-AUD-6; `row` as PrepareRow made it, with
  // row.outbox_token set): the batch that chains it also records the token
  // as chained, in the same commit. Errors as Append.
  Result<int64_t> AppendCommitted(store::AuditEntryRow row);

  // Stops taking entries, writes what is queued and a 'shutdown'
  // checkpoint, and stops the writer. Idempotent.
  Status Close();

  // Deletes entries older than the retention (config retention_days, never
  // less than 1096) counted back from now, after writing a 'purge'
  // checkpoint of the last deleted entry so verification starts there.
  Result<PurgeReport> Purge();
  // The same with an explicit cutoff: entries with time_us < cutoff_us go.
  // kInvalidArgument if the cutoff lies within the retention (now minus
  // retention_days): nothing younger can be purged through this code, and
  // the database trigger refuses it too.
  Result<PurgeReport> PurgeOlderThan(int64_t cutoff_us);

  store::AuditStore& store() { return *store_; }
  const crypto::Keyring& keyring() const { return *keyring_; }
  const AuditLogOptions& options() const { return options_; }
  AuditLogStats stats() const;
  // The webhook sender, when a URL is configured (for tests and metrics).
  const WebhookSender* webhook() const { return webhook_.get(); }

 private:
  struct Waiter {
    store::AuditEntryRow row;  // moved out by the writer
    int64_t seq = 0;
    std::binary_semaphore done{0};
    Status status;
  };

  AuditLog(Env* env, std::unique_ptr<store::AuditStore> store, const crypto::Keyring* keyring,
           const AuditLogOptions& options, AlertEngine alerts);
  Status LoadHead();
  Result<int64_t> Enqueue(store::AuditEntryRow row);
  void Run();
  // Chains and writes one batch (possibly empty: a time-based checkpoint).
  Status WriteBatch(std::vector<Waiter*>& batch, bool shutdown_checkpoint);
  void RaiseAlerts(const std::vector<Waiter*>& batch);

  Env* const env_;
  std::unique_ptr<store::AuditStore> store_;
  const crypto::Keyring* const keyring_;
  const AuditLogOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Waiter*> queue_;  // guarded by mutex_
  bool closing_ = false;       // guarded by mutex_
  bool closed_ = false;        // guarded by mutex_
  AuditLogStats stats_;        // guarded by mutex_
  std::thread writer_;

  // Owned by the writer thread (and Open before it starts).
  int64_t head_seq_ = 0;
  std::string head_hash_;
  int64_t head_time_us_ = 0;
  bool head_valid_ = true;
  int64_t last_checkpoint_seq_ = 0;
  int64_t last_checkpoint_time_us_ = 0;
  ChainHasher hasher_;
  AlertEngine alerts_;
  std::unique_ptr<WebhookSender> webhook_;
  Status close_status_;
};

}  // namespace custvault::audit
