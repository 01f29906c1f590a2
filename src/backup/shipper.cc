// Owned by the shipping/operations work (issue 6).
#include "backup/shipper.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "store/shred_ledger.h"

namespace custvault::backup {
namespace {

// ScanEntries has no limit: the visitor stops it with this code once it
// has enough, and AuditAfter turns it back into success.
constexpr char kEnoughEntries[] = "enough entries for one segment";

class StoreChangeSource final : public ChangeSource {
 public:
  StoreChangeSource(std::unique_ptr<store::sqlite::JournalReader> journal,
                    store::AuditStore& audit)
      : journal_(std::move(journal)), audit_(audit) {}

  Result<store::sqlite::JournalBounds> Bounds() override { return journal_->Bounds(); }

  Result<std::vector<JournalRecord>> JournalAfter(int64_t after_seq, int max_rows,
                                                  size_t max_bytes) override {
    ASSIGN_OR_RETURN(store::sqlite::JournalBounds bounds, journal_->Bounds());
    std::vector<JournalRecord> rows;
    if (bounds.last_seq <= after_seq) return rows;
    const int64_t up_to = std::min(bounds.last_seq, after_seq + max_rows);
    size_t bytes = 0;
    Status scanned = journal_->Scan(
        after_seq, up_to, [&](const store::sqlite::JournalRow& row) -> Status {
          if (!rows.empty() && bytes >= max_bytes) {
            return Status(ErrorCode::kUnavailable, kEnoughEntries);
          }
          // Seqs are contiguous (AUTOINCREMENT under one writer lock; a
          // rolled back transaction takes its seq back): a row that does
          // not follow its predecessor means rows were pruned unread.
          const int64_t expected = rows.empty() ? after_seq + 1 : rows.back().seq + 1;
          if (row.seq != expected) {
            return DataLoss("change journal gap: row " + std::to_string(expected) +
                            " is gone (the journal now starts at " +
                            std::to_string(bounds.first_seq) + ")");
          }
          rows.push_back({row.seq, row.committed_at_us, std::string(row.patchset)});
          bytes += row.patchset.size();
          return Status::Ok();
        });
    if (!scanned.ok() && scanned.message() != kEnoughEntries) return scanned;
    if (rows.empty()) {
      // last_seq counts rows ever written (sqlite_sequence): when the rows
      // after us are all gone, the journal was pruned past us.
      return DataLoss("change journal gap: rows after " + std::to_string(after_seq) +
                      " are gone (the journal now starts at " +
                      std::to_string(bounds.first_seq) + ")");
    }
    return rows;
  }

  Status AuditAfter(int64_t after_seq, int max_entries, ShippedSegment* into) override {
    store::AuditChainSnapshot snapshot;
    std::vector<store::AuditEntryRow> entries;
    Status scanned = audit_.ScanEntries(
        after_seq + 1, &snapshot, [&](const store::AuditEntryView& view) -> Status {
          if (static_cast<int>(entries.size()) >= max_entries) {
            return Status(ErrorCode::kUnavailable, kEnoughEntries);
          }
          store::AuditEntryRow row;
          row.seq = view.seq;
          row.time_us = view.time_us;
          row.actor_id = std::string(view.actor_id);
          row.actor_role = std::string(view.actor_role);
          row.source_ip = std::string(view.source_ip);
          row.operation = std::string(view.operation);
          row.customer_id = std::string(view.customer_id);
          row.result = std::string(view.result);
          row.details = std::string(view.details);
          row.prev_hash = std::string(view.prev_hash);
          row.hash = std::string(view.hash);
          entries.push_back(std::move(row));
          return Status::Ok();
        });
    if (!scanned.ok() && scanned.message() != kEnoughEntries) return scanned;
    into->audit_entries = std::move(entries);
    into->audit_checkpoints.clear();
    into->audit_head.reset();
    if (into->audit_entries.empty()) return Status::Ok();
    const int64_t first = into->audit_entries.front().seq;
    const int64_t last = into->audit_entries.back().seq;
    if (first != after_seq + 1 && after_seq != 0) {
      return DataLoss("audit log gap: shipped up to seq " + std::to_string(after_seq) +
                      ", the next entry is seq " + std::to_string(first));
    }
    for (const store::AuditCheckpointRow& checkpoint : snapshot.checkpoints) {
      if (checkpoint.seq >= first && checkpoint.seq <= last) {
        into->audit_checkpoints.push_back(checkpoint);
      }
    }
    // The head goes along only when it is this segment's last entry: a
    // segment cut short by the limit leaves it to a later one.
    if (snapshot.head && snapshot.head->seq == last) into->audit_head = snapshot.head;
    return Status::Ok();
  }

 private:
  std::unique_ptr<store::sqlite::JournalReader> journal_;
  store::AuditStore& audit_;
};

int64_t Percentile(std::vector<int64_t> sorted, double fraction) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(fraction * static_cast<double>(sorted.size()));
  if (index >= sorted.size()) index = sorted.size() - 1;
  return sorted[index];
}

}  // namespace

void SortSegments(std::vector<ShippedSegmentInfo>* segments) {
  std::sort(segments->begin(), segments->end(),
            [](const ShippedSegmentInfo& a, const ShippedSegmentInfo& b) {
              if (a.journal_from_seq != b.journal_from_seq) {
                return a.journal_from_seq < b.journal_from_seq;
              }
              if (a.audit_from_seq != b.audit_from_seq) return a.audit_from_seq < b.audit_from_seq;
              if (a.journal_to_seq != b.journal_to_seq) return a.journal_to_seq > b.journal_to_seq;
              if (a.audit_to_seq != b.audit_to_seq) return a.audit_to_seq > b.audit_to_seq;
              return a.name < b.name;
            });
}

std::unique_ptr<ChangeSource> MakeChangeSource(std::unique_ptr<store::sqlite::JournalReader> journal,
                                               store::AuditStore& audit) {
  return std::make_unique<StoreChangeSource>(std::move(journal), audit);
}

Shipper::Shipper(Env* env, ChangeSource& source, SegmentFormat& format, ShipperOptions options)
    : env_(env),
      source_(source),
      format_(format),
      options_(std::move(options)),
      shipped_dir_(options_.offsite_dir + "/" + kShippedDirName) {}

Shipper::~Shipper() { Stop(); }

void Shipper::SetError(const Status& status) {
  std::lock_guard lock(status_mutex_);
  status_.last_error = status.ok() ? "" : status.ToString();
}

Status Shipper::Recover() {
  std::lock_guard lock(ship_mutex_);
  return RecoverLocked();
}

Status Shipper::RecoverLocked() {
  if (options_.offsite_dir.empty()) return InvalidArgument("backup.offsite_dir is not set");
  // The off-site directory must be there: creating it would ship onto the
  // local disk under an unmounted mount point.
  if (!env_->FileExists(options_.offsite_dir)) {
    return Unavailable("backup.offsite_dir " + options_.offsite_dir +
                       " does not exist (is the remote file system mounted?)");
  }
  RETURN_IF_ERROR(env_->CreateDirectories(shipped_dir_, 0700));
  RETURN_IF_ERROR(format_.RemoveLeftovers(shipped_dir_));
  ASSIGN_OR_RETURN(std::vector<ShippedSegmentInfo> segments, format_.List(shipped_dir_));
  SortSegments(&segments);
  int64_t journal_seq = 0;
  int64_t audit_seq = 0;
  bool first = true;
  int64_t live = 0;
  last_.reset();
  for (const ShippedSegmentInfo& segment : segments) {
    if (!first && segment.journal_to_seq <= journal_seq && segment.audit_to_seq <= audit_seq) {
      // Covered by a merged segment (a compaction interrupted before it
      // removed the pieces it merged): finish its work.
      RETURN_IF_ERROR(format_.Remove(shipped_dir_, segment.name));
      continue;
    }
    if (!first && !segment.new_chain &&
        (segment.journal_from_seq > journal_seq + 1 || segment.audit_from_seq > audit_seq + 1)) {
      return DataLoss("shipped segment " + segment.name + " does not continue the one before it " +
                      "(journal up to " + std::to_string(journal_seq) + ", audit up to " +
                      std::to_string(audit_seq) + ")");
    }
    journal_seq = std::max(journal_seq, segment.journal_to_seq);
    audit_seq = std::max(audit_seq, segment.audit_to_seq);
    first = false;
    ++live;
    last_ = segment;
  }
  journal_seq_ = journal_seq;
  audit_seq_ = audit_seq;
  next_is_new_chain_ = segments.empty();
  small_segments_ = 0;
  recovered_ = true;
  std::lock_guard lock(status_mutex_);
  status_.journal_seq = journal_seq;
  status_.audit_seq = audit_seq;
  status_.segments = live;
  return Status::Ok();
}

Status Shipper::ShipLedger() {
  if (options_.shred_ledger_path.empty()) return Status::Ok();
  struct stat info {};
  if (::stat(options_.shred_ledger_path.c_str(), &info) != 0) return Status::Ok();  // none yet
  if (info.st_size == ledger_bytes_shipped_) return Status::Ok();
  ASSIGN_OR_RETURN(store::ShredLedgerContents ledger,
                   store::ReadShredLedger(options_.shred_ledger_path));
  RETURN_IF_ERROR(store::MergeShredLedger(options_.offsite_dir + "/" + store::kShredLedgerFileName,
                                          ledger.entries));
  ledger_bytes_shipped_ = info.st_size;
  std::lock_guard lock(status_mutex_);
  status_.ledger_entries_shipped = static_cast<int64_t>(ledger.entries.size());
  return Status::Ok();
}

Result<int64_t> Shipper::ShipOnce() {
  std::lock_guard lock(ship_mutex_);
  Result<int64_t> shipped = ShipOnceLocked();
  SetError(shipped.status());
  return shipped;
}

Result<int64_t> Shipper::ShipOnceLocked() {
  if (!recovered_) RETURN_IF_ERROR(RecoverLocked());
  // The ledger first: a deletion must be off-site no later than its row.
  RETURN_IF_ERROR(ShipLedger());

  ShippedSegment segment;
  if (next_is_new_chain_ && journal_seq_ == 0) {
    // Nothing shipped yet: start where the journal starts (backups may
    // have pruned what came before; they cover it).
    ASSIGN_OR_RETURN(store::sqlite::JournalBounds bounds, source_.Bounds());
    if (bounds.first_seq > 0) journal_seq_ = bounds.first_seq - 1;
  }
  Result<std::vector<JournalRecord>> rows = source_.JournalAfter(
      journal_seq_, options_.max_rows_per_segment, options_.max_bytes_per_segment);
  if (!rows.ok() && rows.status().code() == ErrorCode::kDataLoss) {
    // The journal was pruned past us: start a new chain where it starts.
    ASSIGN_OR_RETURN(store::sqlite::JournalBounds bounds, source_.Bounds());
    spdlog::warn("shipping: {}; starting a new shipped chain at journal seq {}",
                 rows.status().message(), bounds.first_seq);
    journal_seq_ = bounds.first_seq > 0 ? bounds.first_seq - 1 : journal_seq_;
    next_is_new_chain_ = true;
    {
      std::lock_guard lock(status_mutex_);
      ++status_.gaps;
    }
    rows = source_.JournalAfter(journal_seq_, options_.max_rows_per_segment,
                                options_.max_bytes_per_segment);
  }
  if (!rows.ok()) return rows.status();
  segment.journal = std::move(*rows);
  segment.journal_from_seq = journal_seq_ + 1;
  segment.journal_to_seq = segment.journal.empty() ? journal_seq_ : segment.journal.back().seq;
  RETURN_IF_ERROR(source_.AuditAfter(audit_seq_, options_.max_audit_entries_per_segment, &segment));
  segment.audit_from_seq = audit_seq_ + 1;
  segment.audit_to_seq =
      segment.audit_entries.empty() ? audit_seq_ : segment.audit_entries.back().seq;
  if (segment.journal.empty() && segment.audit_entries.empty()) return int64_t{0};

  segment.created_at_us = env_->NowMicros();
  segment.new_chain = next_is_new_chain_ || !last_;
  if (!segment.new_chain) {
    segment.previous_name = last_->name;
    segment.previous_manifest_sm3 = last_->manifest_sm3;
    segment.chain_id = last_->chain_id;
  }
  ASSIGN_OR_RETURN(ShippedSegmentInfo written, format_.Write(shipped_dir_, segment));
  last_ = written;
  const int64_t durable_us = env_->NowMicros();
  journal_seq_ = segment.journal_to_seq;
  audit_seq_ = segment.audit_to_seq;
  next_is_new_chain_ = false;
  ++small_segments_;
  RecordLags(segment.journal, durable_us);
  {
    std::lock_guard lock(status_mutex_);
    status_.journal_seq = journal_seq_;
    status_.audit_seq = audit_seq_;
    ++status_.segments;
    ++status_.segments_written;
    status_.rows_shipped += static_cast<int64_t>(segment.journal.size());
    status_.last_shipped_at_us = durable_us;
  }
  RecordPosition(/*force=*/false);
  if (options_.compact_every > 0 && small_segments_ >= options_.compact_every) {
    // A failed compaction costs only file count; shipping goes on.
    if (Status compacted = Compact(); !compacted.ok()) {
      spdlog::warn("shipping: compaction failed: {}", compacted.ToString());
    }
  }
  return static_cast<int64_t>(segment.journal.size());
}

void Shipper::RecordPosition(bool force) {
  if (!options_.record_position || journal_seq_ == position_recorded_seq_) return;
  const int64_t now_us = env_->NowMicros();
  if (!force && now_us - position_recorded_at_us_ < int64_t{options_.position_every_ms} * 1000) {
    return;
  }
  // Only ever behind the truth (the segments are durable first), so a
  // failure here costs pruning, never data.
  if (Status recorded = options_.record_position(journal_seq_); !recorded.ok()) {
    spdlog::warn("shipping: position not recorded: {}", recorded.ToString());
    return;
  }
  position_recorded_seq_ = journal_seq_;
  position_recorded_at_us_ = now_us;
}

void Shipper::RecordLags(const std::vector<JournalRecord>& rows, int64_t durable_us) {
  std::lock_guard lock(status_mutex_);
  for (const JournalRecord& row : rows) {
    lags_ms_.push_back(std::max<int64_t>(0, (durable_us - row.committed_at_us) / 1000));
    if (lags_ms_.size() > kLagWindow) lags_ms_.pop_front();
  }
}

Status Shipper::Compact() {
  ASSIGN_OR_RETURN(std::vector<ShippedSegmentInfo> segments, format_.List(shipped_dir_));
  SortSegments(&segments);
  // The newest run of small segments that continue one another (a new
  // chain starts a run of its own).
  std::vector<const ShippedSegmentInfo*> run;
  for (const ShippedSegmentInfo& segment : segments) {
    if (segment.new_chain) run.clear();
    run.push_back(&segment);
  }
  if (run.size() > static_cast<size_t>(options_.compact_every)) {
    run.erase(run.begin(), run.end() - options_.compact_every);
  }
  if (run.size() < 2) {
    small_segments_ = 0;
    return Status::Ok();
  }
  // The run must end at the newest segment, so the next one follows the merge.
  if (!last_ || run.back()->name != last_->name) return Status::Ok();
  ShippedSegment merged;
  bool have_first = false;
  for (const ShippedSegmentInfo* info : run) {
    ASSIGN_OR_RETURN(ShippedSegment part, format_.Read(shipped_dir_, info->name));
    if (!have_first) {
      merged.journal_from_seq = part.journal_from_seq;
      merged.audit_from_seq = part.audit_from_seq;
      merged.new_chain = part.new_chain;
      merged.previous_name = part.previous_name;
      merged.previous_manifest_sm3 = part.previous_manifest_sm3;
      merged.chain_id = part.chain_id;
      have_first = true;
    }
    merged.journal_to_seq = part.journal_to_seq;
    merged.audit_to_seq = part.audit_to_seq;
    for (auto& row : part.journal) merged.journal.push_back(std::move(row));
    for (auto& entry : part.audit_entries) merged.audit_entries.push_back(std::move(entry));
    for (auto& checkpoint : part.audit_checkpoints) {
      merged.audit_checkpoints.push_back(std::move(checkpoint));
    }
    if (part.audit_head) merged.audit_head = part.audit_head;
    merged.created_at_us = part.created_at_us;
  }
  // The head belongs with the merged segment only if it is its last entry.
  if (merged.audit_head && merged.audit_head->seq != merged.audit_to_seq) {
    merged.audit_head.reset();
  }
  ASSIGN_OR_RETURN(ShippedSegmentInfo written, format_.Write(shipped_dir_, merged));
  last_ = written;
  for (const ShippedSegmentInfo* info : run) {
    if (info->name == written.name) continue;
    RETURN_IF_ERROR(format_.Remove(shipped_dir_, info->name));
  }
  small_segments_ = 0;
  std::lock_guard lock(status_mutex_);
  status_.segments -= static_cast<int64_t>(run.size()) - 1;
  return Status::Ok();
}

Status Shipper::Start() {
  if (thread_.joinable()) return Status::Ok();
  if (options_.offsite_dir.empty()) return InvalidArgument("backup.offsite_dir is not set");
  // An off-site directory that cannot be read now (not mounted, damaged)
  // does not stop the server: every round tries again, and the status and
  // the log say why nothing is shipped.
  if (Status recovered = Recover(); !recovered.ok()) {
    spdlog::error("shipping: {}; retrying every {} ms", recovered.ToString(), options_.interval_ms);
    SetError(recovered);
  }
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = false;
  }
  {
    std::lock_guard lock(status_mutex_);
    status_.running = true;
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void Shipper::Stop() {
  {
    std::lock_guard lock(wake_mutex_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  // What was committed before the stop goes off-site too.
  if (Result<int64_t> last = ShipOnce(); !last.ok()) {
    spdlog::warn("shipping: last round at stop failed: {}", last.status().ToString());
  }
  {
    std::lock_guard ship(ship_mutex_);
    RecordPosition(/*force=*/true);
  }
  std::lock_guard lock(status_mutex_);
  status_.running = false;
}

void Shipper::Loop() {
  const auto interval = std::chrono::milliseconds(std::max(1, options_.interval_ms));
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    Result<int64_t> shipped = ShipOnce();
    if (!shipped.ok()) spdlog::warn("shipping: {}", shipped.status().ToString());
    next += interval;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;  // a slow round does not make the next ones rush
    std::unique_lock lock(wake_mutex_);
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) return;
  }
}

ShipperStatus Shipper::CurrentStatus() const {
  std::lock_guard lock(status_mutex_);
  ShipperStatus status = status_;
  std::vector<int64_t> sorted(lags_ms_.begin(), lags_ms_.end());
  std::sort(sorted.begin(), sorted.end());
  status.lag_samples = static_cast<int64_t>(sorted.size());
  status.lag_p50_ms = Percentile(sorted, 0.50);
  status.lag_p99_ms = Percentile(sorted, 0.99);
  status.lag_max_ms = sorted.empty() ? 0 : sorted.back();
  return status;
}

}  // namespace custvault::backup
