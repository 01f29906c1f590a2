#include "audit/audit_log.h"

#include <boost/json/serialize.hpp>
#include <chrono>

#include "audit/checkpoint.h"
#include "common/log.h"
#include "store/sqlite/sqlite_audit_store.h"

namespace custvault::audit {
namespace {

constexpr int64_t kSecondUs = 1'000'000;
constexpr int64_t kDayUs = 86'400 * kSecondUs;
// How often an idle writer looks whether a time-based checkpoint is due.
constexpr auto kIdleCheckpointPoll = std::chrono::milliseconds(500);

Status ValidateOptions(const AuditLogOptions& options) {
  const AuditConfig& c = options.config;
  if (c.retention_days < store::sqlite::kAuditRetentionDaysMin) {
    return InvalidArgument("audit.retention_days must be at least " +
                           std::to_string(store::sqlite::kAuditRetentionDaysMin));
  }
  if (c.queue_max < 1 || c.batch_max < 1 || c.checkpoint_every_entries < 1 ||
      c.checkpoint_every_seconds < 1) {
    return InvalidArgument("audit queue, batch and checkpoint settings must be positive");
  }
  if (!c.alert_webhook_url.empty()) RETURN_IF_ERROR(ParseHttpUrl(c.alert_webhook_url).status());
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::Open(Env* env, std::unique_ptr<store::AuditStore> store,
                                                 const crypto::Keyring* keyring,
                                                 const AuditLogOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  ASSIGN_OR_RETURN(AlertEngine alerts,
                   AlertEngine::Create(options.config, options.utc_offset_seconds));
  // Fails early with kNotFound when the audit key is missing, rather than
  // at the first checkpoint.
  RETURN_IF_ERROR(keyring->DomainMac(kAuditKeyPurpose, "probe").status());
  auto log = std::unique_ptr<AuditLog>(
      new AuditLog(env, std::move(store), keyring, options, std::move(alerts)));
  RETURN_IF_ERROR(log->LoadHead());
  ASSIGN_OR_RETURN(std::vector<store::LoginIpRow> ips, log->store_->LoginIps(kLoginIpsSeedMax));
  for (const store::LoginIpRow& ip : ips) log->alerts_.RememberLoginIp(ip.actor_id, ip.source_ip);
  if (!options.config.alert_webhook_url.empty()) {
    ASSIGN_OR_RETURN(log->webhook_, WebhookSender::Create(options.config.alert_webhook_url));
  }
  log->stats_.head_seq = log->head_seq_;
  log->writer_ = std::thread([raw = log.get()] { raw->Run(); });
  return log;
}

AuditLog::AuditLog(Env* env, std::unique_ptr<store::AuditStore> store,
                   const crypto::Keyring* keyring, const AuditLogOptions& options,
                   AlertEngine alerts)
    : env_(env),
      store_(std::move(store)),
      keyring_(keyring),
      options_(options),
      alerts_(std::move(alerts)) {}

AuditLog::~AuditLog() { Close().IgnoreError(); }

Status AuditLog::LoadHead() {
  ASSIGN_OR_RETURN(std::optional<store::AuditHeadRow> head, store_->Head());
  ASSIGN_OR_RETURN(std::optional<store::AuditEntryRow> last, store_->LastEntry());
  if (!head) {
    if (last) {
      return DataLoss(
          "audit log has entries but no head: it was tampered with "
          "(run `custvault audit verify`)");
    }
    head_seq_ = 0;
    head_hash_ = std::string(GenesisHash());
    head_time_us_ = 0;
  } else {
    ASSIGN_OR_RETURN(const bool mac_ok, HeadMacValid(*keyring_, *head));
    if (!mac_ok) {
      return DataLoss("audit head MAC does not verify (run `custvault audit verify`)");
    }
    // With every entry purged the chain goes on from the head alone.
    if (last && (last->seq != head->seq || last->hash != head->hash)) {
      return DataLoss("last audit entry does not match the head (run `custvault audit verify`)");
    }
    head_seq_ = head->seq;
    head_hash_ = head->hash;
    head_time_us_ = std::max(head->time_us, last ? last->time_us : int64_t{0});
  }
  ASSIGN_OR_RETURN(std::vector<store::AuditCheckpointRow> checkpoints, store_->Checkpoints());
  last_checkpoint_seq_ = 0;
  last_checkpoint_time_us_ = env_->NowMicros();
  for (const store::AuditCheckpointRow& checkpoint : checkpoints) {
    if (checkpoint.seq >= last_checkpoint_seq_) {
      last_checkpoint_seq_ = checkpoint.seq;
      last_checkpoint_time_us_ = checkpoint.time_us;
    }
  }
  head_valid_ = true;
  return Status::Ok();
}

Result<int64_t> AuditLog::Append(const AuditEvent& event) {
  ASSIGN_OR_RETURN(store::AuditEntryRow row, PrepareRow(event));
  return Enqueue(std::move(row));
}

Result<int64_t> AuditLog::AppendCommitted(store::AuditEntryRow row) {
  RETURN_IF_ERROR(CheckRow(row));
  if (row.outbox_token.empty()) return InvalidArgument("outbox entry without its token");
  return Enqueue(std::move(row));
}

Result<int64_t> AuditLog::Enqueue(store::AuditEntryRow row) {
  Waiter waiter;
  waiter.row = std::move(row);
  {
    std::lock_guard lock(mutex_);
    if (closing_ || closed_) return Unavailable("the audit log is closed");
    if (queue_.size() >= static_cast<size_t>(options_.config.queue_max)) {
      return Unavailable("the audit queue is full");
    }
    queue_.push_back(&waiter);
  }
  wake_.notify_one();
  waiter.done.acquire();
  if (!waiter.status.ok()) return waiter.status;
  return waiter.seq;
}

void AuditLog::Run() {
  std::vector<Waiter*> batch;
  batch.reserve(static_cast<size_t>(options_.config.batch_max));
  const int64_t checkpoint_interval_us =
      int64_t{options_.config.checkpoint_every_seconds} * kSecondUs;
  std::unique_lock lock(mutex_);
  while (true) {
    if (queue_.empty() && !closing_) {
      if (head_seq_ > last_checkpoint_seq_) {
        wake_.wait_for(lock, kIdleCheckpointPoll);
      } else {
        wake_.wait(lock, [this] { return closing_ || !queue_.empty(); });
      }
    }
    batch.clear();
    while (!queue_.empty() && batch.size() < static_cast<size_t>(options_.config.batch_max)) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    const bool shutting_down = closing_ && queue_.empty();
    lock.unlock();
    const bool checkpoint_due =
        head_seq_ > last_checkpoint_seq_ &&
        env_->NowMicros() - last_checkpoint_time_us_ >= checkpoint_interval_us;
    Status status;
    if (!batch.empty() || checkpoint_due || shutting_down) {
      status = WriteBatch(batch, shutting_down);
    }
    lock.lock();
    stats_.head_seq = head_seq_;
    if (shutting_down) {
      close_status_ = status;
      closed_ = true;
      lock.unlock();
      wake_.notify_all();
      return;
    }
  }
}

Status AuditLog::WriteBatch(std::vector<Waiter*>& batch, bool shutdown_checkpoint) {
  // Hands every caller its outcome; the waiter may vanish the moment its
  // semaphore is released, so that is the last touch. The stats are counted
  // first: a caller that returns from Append sees its batch in them.
  auto finish = [this, &batch](const Status& status) {
    {
      std::lock_guard lock(mutex_);
      if (!batch.empty()) {
        if (status.ok()) {
          stats_.entries += static_cast<int64_t>(batch.size());
          ++stats_.batches;
        } else {
          ++stats_.failed_batches;
        }
      }
      stats_.head_seq = head_seq_;
    }
    for (Waiter* waiter : batch) {
      waiter->status = status;
      waiter->done.release();
    }
  };
  if (!head_valid_) {
    const Status reload = LoadHead();
    if (!reload.ok()) {
      spdlog::error("audit log: cannot reload the chain head: {}", reload.ToString());
      finish(reload);
      return reload;
    }
  }
  std::vector<store::AuditEntryRow> rows;
  std::vector<store::LoginIpRow> login_ips;
  rows.reserve(batch.size());
  for (Waiter* waiter : batch) {
    store::AuditEntryRow& row = waiter->row;
    if (row.operation == op::kAuthLogin && row.result == result::kOk && !row.source_ip.empty()) {
      login_ips.push_back({row.actor_id, row.source_ip});
    }
    rows.push_back(std::move(row));
  }
  // Chains the rows onto the head this process knows and writes them. A
  // second process on the same data directory (a CLI command while the
  // server runs) may have appended since: the seq primary key refuses the
  // batch (kConflict), nothing of it is stored, and the rows are chained
  // again onto the reloaded head, once.
  int64_t now_us = 0;
  int64_t time_us = 0;
  int64_t seq = 0;
  std::string hash;
  std::vector<store::AuditCheckpointRow> checkpoints;
  Status written;
  for (int attempt = 0; attempt < 2; ++attempt) {
    now_us = env_->NowMicros();
    // Time never goes backwards along the chain, even if the clock does: a
    // time range is then a seq range (search relies on it).
    time_us = std::max(now_us, head_time_us_);
    seq = head_seq_;
    hash = head_hash_;
    for (store::AuditEntryRow& row : rows) {
      row.seq = ++seq;
      row.time_us = time_us;
      row.prev_hash = hash;
      const crypto::Digest32 digest = hasher_.Hash(hash, ViewOf(row));
      row.hash.assign(crypto::DigestView(digest));
      hash = row.hash;
    }
    checkpoints.clear();
    const int64_t since_checkpoint = seq - last_checkpoint_seq_;
    const bool by_count = since_checkpoint >= options_.config.checkpoint_every_entries;
    const bool by_time =
        since_checkpoint > 0 && now_us - last_checkpoint_time_us_ >=
                                    int64_t{options_.config.checkpoint_every_seconds} * kSecondUs;
    const bool at_shutdown = shutdown_checkpoint && seq > 0;
    if (by_count || by_time || at_shutdown) {
      Result<store::AuditCheckpointRow> checkpoint = MakeCheckpoint(
          *keyring_, seq, hash, time_us, at_shutdown ? kCheckpointShutdown : kCheckpointPeriodic);
      if (!checkpoint.ok()) {
        finish(checkpoint.status());
        return checkpoint.status();
      }
      checkpoints.push_back(std::move(checkpoint).value());
    }
    Result<store::AuditHeadRow> head = MakeHead(*keyring_, seq, hash, time_us);
    if (!head.ok()) {
      finish(head.status());
      return head.status();
    }
    written = store_->AppendBatch(rows, checkpoints, login_ips, *head);
    if (written.ok()) break;
    // Nothing of the batch is stored (one transaction); the in-memory head
    // stays where the database is. Reload to be sure (a commit may have
    // reached the disk even though it reported an error).
    head_valid_ = false;
    const Status reloaded = LoadHead();
    if (reloaded.ok()) head_valid_ = true;
    if (written.code() != ErrorCode::kConflict || !reloaded.ok()) break;
    spdlog::info("audit log: another process appended first; chaining the batch onto its head");
  }
  if (!written.ok()) {
    spdlog::error("audit log: batch of {} entries not written: {}", rows.size(),
                  written.ToString());
    finish(written);
    return written;
  }
  for (size_t i = 0; i < batch.size(); ++i) batch[i]->seq = rows[i].seq;
  head_seq_ = seq;
  head_hash_ = hash;
  head_time_us_ = time_us;
  if (!checkpoints.empty()) {
    last_checkpoint_seq_ = seq;
    last_checkpoint_time_us_ = now_us;
  }
  finish(Status::Ok());
  {
    std::lock_guard lock(mutex_);
    stats_.checkpoints += static_cast<int64_t>(checkpoints.size());
  }
  // The callers are already answered; alerts come after, from the rows
  // this thread still holds.
  for (const store::AuditEntryRow& row : rows) {
    for (RaisedAlert& alert : alerts_.Observe(ViewOf(row))) {
      store::AlertRow stored{0, alert.rule, alert.actor_id, alert.time_us, alert.summary, "", 0};
      Result<int64_t> id = store_->InsertAlert(stored);
      if (!id.ok()) {
        spdlog::error("audit log: alert {} not stored: {}", alert.rule, id.status().ToString());
        continue;
      }
      {
        std::lock_guard lock(mutex_);
        ++stats_.alerts;
      }
      if (webhook_) {
        boost::json::object body;
        body["id"] = *id;
        body["rule"] = alert.rule;
        body["actor_id"] = alert.actor_id;
        body["time"] = FormatRfc3339(alert.time_us);
        body["summary"] = alert.summary;
        webhook_->Post(boost::json::serialize(body));
      }
    }
  }
  return Status::Ok();
}

Status AuditLog::Close() {
  std::unique_lock lock(mutex_);
  if (!closing_) {
    closing_ = true;
    wake_.notify_all();
  }
  if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) {
    lock.unlock();
    writer_.join();
    lock.lock();
  }
  return close_status_;
}

AuditLogStats AuditLog::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

Result<PurgeReport> AuditLog::Purge() {
  return PurgeOlderThan(env_->NowMicros() - int64_t{options_.config.retention_days} * kDayUs);
}

Result<PurgeReport> AuditLog::PurgeOlderThan(int64_t cutoff_us) {
  const int64_t now_us = env_->NowMicros();
  const int64_t youngest_allowed = now_us - int64_t{options_.config.retention_days} * kDayUs;
  if (cutoff_us > youngest_allowed) {
    return InvalidArgument("audit entries younger than " +
                           std::to_string(options_.config.retention_days) +
                           " days cannot be purged (R-AUD-3)");
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> last_seq, store_->LastSeqBefore(cutoff_us));
  if (!last_seq) return PurgeReport{};
  store::AuditQuery query;
  query.after_seq = *last_seq - 1;
  query.limit = 1;
  ASSIGN_OR_RETURN(std::vector<store::AuditEntryRow> rows, store_->Search(query));
  if (rows.empty() || rows.front().seq != *last_seq) {
    return Internal("audit entry to purge vanished while purging");
  }
  ASSIGN_OR_RETURN(
      store::AuditCheckpointRow checkpoint,
      MakeCheckpoint(*keyring_, *last_seq, rows.front().hash, now_us, kCheckpointPurge));
  ASSIGN_OR_RETURN(const int64_t deleted, store_->Purge(*last_seq, checkpoint));
  spdlog::info("audit log: purged {} entries up to seq {}", deleted, *last_seq);
  return PurgeReport{deleted, *last_seq};
}

}  // namespace custvault::audit
