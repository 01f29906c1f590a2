#include "backup/backup_engine.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <limits>

#include "backup/files.h"
#include "backup/records.h"
#include "common/encoding.h"
#include "crypto/hash.h"
#include "store/shred_ledger.h"
#include "store/sqlite/sqlite_audit_store.h"
#include "store/sqlite/sqlite_backup.h"

namespace custvault::backup {
namespace {

namespace sql = store::sqlite;

constexpr size_t kConfigBytesMax = size_t{1} << 20;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Result<std::string> RandomHex(Env* env, size_t bytes) {
  std::string raw(bytes, '\0');
  RETURN_IF_ERROR(env->RandomBytes(
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(raw.data()), raw.size())));
  return HexEncode(raw);
}

// The newest backup of the location a new incremental can follow: the
// last complete full or incremental (segments are shipping's, not part of
// the daily chain).
// When a listed backup was made: its manifest's time, or for a damaged one
// the second its id names.
int64_t ListingTime(const BackupListing& listing) {
  if (listing.manifest) return listing.manifest->created_at_us;
  std::tm utc{};
  if (::strptime(listing.id.c_str(), "%Y%m%dT%H%M%SZ", &utc) == nullptr) return 0;
  return static_cast<int64_t>(::timegm(&utc)) * 1'000'000;
}

// The newest sound backup of `listings` (ListBackups of `location`, in
// creation order) and its manifest file, for an incremental to follow.
Result<std::pair<Manifest, std::string>> LatestChainPiece(
    const std::string& location, const std::vector<BackupListing>& listings) {
  for (auto it = listings.rbegin(); it != listings.rend(); ++it) {
    if (!it->manifest || !it->problem.empty()) continue;
    if (it->manifest->kind == BackupKind::kSegment) continue;
    std::string file;
    ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(location, it->id, &file));
    return std::make_pair(std::move(manifest), std::move(file));
  }
  return Conflict("no full backup in " + location + " to follow; take a full backup first");
}

}  // namespace

EngineOptions EngineOptionsFromConfig(const Config& config, const std::string& location) {
  EngineOptions options;
  options.custvault_db_path = config.DataPath(config.storage.sqlite_file);
  options.audit_db_path = config.DataPath(store::sqlite::kAuditDatabaseFileName);
  options.config_path = config.DataPath("custvault.toml");
  options.shred_ledger_path = config.DataPath(store::kShredLedgerFileName);
  options.location = location.empty() ? config.DataPath(config.backup.local_dir) : location;
  options.crypto_profile = config.crypto.profile;
  options.shipping_active = config.backup.shipping && !config.backup.offsite_dir.empty();
  options.piece.chunk_bytes = static_cast<size_t>(config.backup.chunk_bytes);
  options.piece.zstd_level = config.backup.zstd_level;
  return options;
}

Result<crypto::WrappedKey> CurrentBackupKey(store::Store& store) {
  ASSIGN_OR_RETURN(std::vector<store::StoredKey> keys, store.ListKeys());
  const store::StoredKey* newest = nullptr;
  for (const store::StoredKey& key : keys) {
    if (key.purpose == kBackupKeyPurpose && (newest == nullptr || key.version > newest->version))
      newest = &key;
  }
  if (newest == nullptr) return NotFound("the vault has no backup key yet (open it once with this version)");
  return crypto::WrappedKey{newest->purpose, newest->version, newest->wrapped};
}

// ---- listing and reading ----

Result<std::vector<BackupListing>> ListBackups(const std::string& location) {
  Result<std::vector<std::string>> names = ListDirectory(location);
  if (!names.ok()) {
    if (names.status().code() == ErrorCode::kNotFound) return std::vector<BackupListing>();
    return names.status();
  }
  std::vector<BackupListing> listings;
  for (const std::string& name : *names) {
    if (name.empty() || name.front() == '.') continue;  // .partial-*, .lock
    // Only names of the backup-id shape are backups: other entries (the
    // online restores' "restores/", an operator's notes) are not listed,
    // and never as damaged backups.
    if (!IsValidBackupId(name)) continue;
    const std::string path = location + "/" + name;
    if (!IsDirectory(path)) continue;
    BackupListing listing;
    listing.id = name;
    listing.path = path;
    Result<std::string> file = ReadWholeFile(path + "/" + kManifestFileName, kManifestBytesMax);
    if (!file.ok()) {
      listing.problem = file.status().code() == ErrorCode::kNotFound
                            ? "no manifest (not a complete backup)"
                            : file.status().message();
    } else {
      Result<Manifest> manifest = ParseManifest(*file);
      if (!manifest.ok()) {
        listing.problem = manifest.status().message();
      } else {
        if (manifest->id != name) {
          listing.problem = "directory name does not match the manifest's id " + manifest->id;
        }
        listing.manifest = std::move(manifest).value();
      }
    }
    listings.push_back(std::move(listing));
  }
  // Creation order. Ids sort by the second only, and two backups may share
  // a second (a CLI incremental right after the job's): the manifest's
  // microseconds decide, which the engine keeps strictly increasing.
  std::stable_sort(listings.begin(), listings.end(),
                   [](const BackupListing& a, const BackupListing& b) {
                     return ListingTime(a) < ListingTime(b);
                   });
  return listings;
}

Result<Manifest> ReadManifest(const std::string& location, const std::string& id,
                              std::string* file) {
  if (!IsValidBackupId(id)) return InvalidArgument("not a backup id: " + id);
  Result<std::string> bytes =
      ReadWholeFile(location + "/" + id + "/" + kManifestFileName, kManifestBytesMax);
  if (!bytes.ok()) {
    if (bytes.status().code() == ErrorCode::kNotFound)
      return NotFound("backup " + id + " is missing (no manifest in " + location + ")");
    return bytes.status();
  }
  Result<Manifest> manifest = ParseManifest(*bytes);
  if (!manifest.ok()) return DataLoss("backup " + id + ": " + manifest.status().message());
  if (manifest->id != id) {
    return DataLoss("backup " + id + ": the manifest belongs to backup " + manifest->id +
                    " (directories swapped or renamed)");
  }
  if (file != nullptr) *file = std::move(bytes).value();
  return manifest;
}

Result<ArchiveCipher> OpenArchiveCipher(const Manifest& manifest, const crypto::Keyring& keyring) {
  Result<crypto::SecretBytes> key =
      keyring.OpenWithDomainKey(kBackupKeyPurpose, manifest.id, manifest.archive_key);
  if (!key.ok()) {
    if (key.status().code() == ErrorCode::kNotFound) return key.status();
    return DataLoss("backup " + manifest.id + ": its archive key does not open (" +
                    key.status().message() + ")");
  }
  if (key->size() != kArchiveKeyBytes) {
    return DataLoss("backup " + manifest.id + ": archive key has the wrong size");
  }
  return ArchiveCipher(manifest.algorithm, std::move(key).value());
}

// ---- writing ----

BackupEngine::BackupEngine(Env* env, EngineOptions options, const crypto::Keyring& keyring,
                           crypto::WrappedKey backup_key)
    : env_(env), options_(std::move(options)), keyring_(keyring), backup_key_(std::move(backup_key)) {}

Result<BackupResult> BackupEngine::RunFull(const ProgressFn& progress) {
  return Run(BackupKind::kFull, progress);
}

Result<BackupResult> BackupEngine::RunIncremental(const ProgressFn& progress) {
  return Run(BackupKind::kIncremental, progress);
}

Result<BackupResult> BackupEngine::Run(BackupKind kind, const ProgressFn& progress) {
  const auto start = std::chrono::steady_clock::now();
  const std::string& location = options_.location;
  ASSIGN_OR_RETURN(std::unique_ptr<LocationLock> lock, LocationLock::Acquire(location, kLockFileName));
  // Leftovers of a backup that died (under the lock, so none is running).
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(location));
  for (const std::string& name : names) {
    if (name.rfind(kPartialPrefix, 0) == 0) RETURN_IF_ERROR(RemoveTree(location + "/" + name));
  }

  Manifest manifest;
  manifest.kind = kind;
  // Strictly after every backup here, even within one microsecond or when
  // the clock stepped back: the listing's order is the creation order.
  manifest.created_at_us = env_->NowMicros();
  ASSIGN_OR_RETURN(const std::vector<BackupListing> existing, ListBackups(location));
  for (const BackupListing& listing : existing) {
    if (listing.manifest) {
      manifest.created_at_us = std::max(manifest.created_at_us, listing.manifest->created_at_us + 1);
    }
  }
  ASSIGN_OR_RETURN(std::string random, RandomHex(env_, 4));
  manifest.id = MakeBackupId(manifest.created_at_us, kind, random);
  RETURN_IF_ERROR(lock->SetHolder(manifest.id));  // a second caller is told which (issue 11.11)
  manifest.crypto_profile = options_.crypto_profile;
  manifest.algorithm = options_.crypto_profile == "gm" ? crypto::AeadAlgorithm::kSm4Gcm
                                                       : crypto::AeadAlgorithm::kAes256Gcm;
  manifest.backup_key = backup_key_;

  // The predecessor, for an incremental: checked before anything is written.
  std::optional<Manifest> previous;
  if (kind == BackupKind::kIncremental) {
    ASSIGN_OR_RETURN(auto latest, LatestChainPiece(location, existing));
    RETURN_IF_ERROR(VerifyManifestMac(latest.second, keyring_));
    previous = std::move(latest.first);
    manifest.base_id = previous->kind == BackupKind::kFull ? previous->id : previous->base_id;
    manifest.previous_id = previous->id;
    manifest.previous_manifest_sm3.assign(crypto::DigestView(crypto::Sm3(latest.second)));
    // Never extend a chain that cannot be restored (issue 11.10): every
    // backup of it, back to its full, must verify (every chunk's SM3 and
    // tag). A damaged one refuses the incremental (kDataLoss, audited as a
    // failed backup.run, which raises the backup_damaged alert); the next
    // full backup starts a sound chain.
    std::string link = previous->id;
    for (size_t hops = 0; hops <= existing.size(); ++hops) {
      Result<VerifyResult> verified = Verify(link);
      if (!verified.ok()) {
        return DataLoss("incremental refused: backup " + link +
                        " of the chain it would extend is damaged (" +
                        verified.status().message() + "); take a full backup");
      }
      if (verified->manifest.kind == BackupKind::kFull) break;
      link = verified->manifest.previous_id;
    }
  }

  ASSIGN_OR_RETURN(const ArchiveCipher cipher, NewArchiveCipher(env_, keyring_, &manifest));
  ASSIGN_OR_RETURN(std::unique_ptr<StagingDirectory> staging_dir,
                   StagingDirectory::Create(location + "/" + kPartialPrefix + manifest.id));
  const std::string& staging = staging_dir->path();

  Progress shown;
  shown.pieces_total = kind == BackupKind::kFull ? 3 : 2;
  auto report = [&](const std::string& stage, int64_t done, int64_t total) {
    shown.stage = stage;
    shown.bytes_done = done;
    shown.bytes_total = total;
    if (progress) progress(shown);
  };
  auto write_piece = [&](const std::string& name,
                         const std::function<Status(PieceWriter&)>& fill,
                         int64_t total) -> Status {
    ASSIGN_OR_RETURN(std::unique_ptr<PieceWriter> writer,
                     PieceWriter::Create(staging + "/" + name + kPieceFileSuffix, cipher,
                                         manifest.id, name,
                                         static_cast<uint32_t>(manifest.pieces.size()),
                                         options_.piece,
                                         [&](int64_t done) { report(name, done, total); }));
    RETURN_IF_ERROR(fill(*writer));
    ASSIGN_OR_RETURN(PieceInfo info, writer->Finish());
    manifest.raw_bytes += info.raw_bytes;
    manifest.stored_bytes += info.stored_bytes;
    manifest.pieces.push_back(std::move(info));
    ++shown.pieces_done;
    return Status::Ok();
  };

  std::vector<store::ShredEntry> shredded;
  if (kind == BackupKind::kFull) {
    report("snapshot", 0, 0);
    const std::string db_copy = staging + "/.snapshot-custvault.db";
    const std::string audit_copy = staging + "/.snapshot-audit.db";
    ASSIGN_OR_RETURN(sql::DatabaseSnapshotInfo db,
                     sql::SnapshotCustomerDatabase(options_.custvault_db_path, db_copy));
    ASSIGN_OR_RETURN(sql::AuditSnapshotInfo audit,
                     sql::SnapshotAuditDatabase(options_.audit_db_path, audit_copy));
    manifest.schema_version = db.schema_version;
    manifest.journal_after_seq = 0;
    manifest.journal_to_seq = db.journal_seq;
    manifest.point_us = db.journal_point_us;
    manifest.customers = db.customers;
    manifest.audit_after_seq = 0;
    manifest.audit_to_seq = audit.last_seq;
    manifest.audit_checkpoint_to_rowid = audit.checkpoint_rowid;
    manifest.audit_last_time_us = audit.last_time_us;
    manifest.alert_id = audit.alert_id;
    manifest.audit_entries = audit.entries;
    shredded = std::move(db.shredded);
    RETURN_IF_ERROR(write_piece(
        kPieceCustomerDb, [&](PieceWriter& w) { return w.AppendFile(db_copy); }, db.bytes));
    RETURN_IF_ERROR(RemoveTree(db_copy));
    RETURN_IF_ERROR(write_piece(
        kPieceAuditDb, [&](PieceWriter& w) { return w.AppendFile(audit_copy); }, audit.bytes));
    RETURN_IF_ERROR(RemoveTree(audit_copy));
    ASSIGN_OR_RETURN(std::string config, ReadWholeFile(options_.config_path, kConfigBytesMax));
    RETURN_IF_ERROR(write_piece(
        kPieceConfig, [&](PieceWriter& w) { return w.Append(config); },
        static_cast<int64_t>(config.size())));
  } else {
    // The journal after the predecessor, up to now.
    ASSIGN_OR_RETURN(std::unique_ptr<sql::JournalReader> journal,
                     sql::JournalReader::Open(options_.custvault_db_path));
    ASSIGN_OR_RETURN(sql::JournalBounds bounds, journal->Bounds());
    if (bounds.schema_version != previous->schema_version) {
      return Conflict("the database schema changed since backup " + previous->id + " (" +
                      std::to_string(previous->schema_version) + " -> " +
                      std::to_string(bounds.schema_version) + "); take a full backup");
    }
    if (bounds.last_seq > previous->journal_to_seq && bounds.first_seq > previous->journal_to_seq + 1) {
      return Conflict("the change journal no longer holds the changes after backup " +
                      previous->id + " (pruned up to " + std::to_string(bounds.first_seq - 1) +
                      "); take a full backup");
    }
    manifest.schema_version = bounds.schema_version;
    manifest.journal_after_seq = previous->journal_to_seq;
    manifest.journal_to_seq = std::max(previous->journal_to_seq, bounds.last_seq);
    manifest.point_us = previous->point_us;
    int64_t expected_seq = previous->journal_to_seq + 1;
    RETURN_IF_ERROR(write_piece(
        kPieceJournal,
        [&](PieceWriter& w) -> Status {
          std::string record;
          return journal->Scan(manifest.journal_after_seq, manifest.journal_to_seq,
                               [&](const sql::JournalRow& row) -> Status {
                                 // Rows are never deleted inside the range a
                                 // backup still needs (pruning stops at the
                                 // newest backup), so a gap is damage.
                                 if (row.seq != expected_seq) {
                                   return DataLoss("change journal: row " +
                                                   std::to_string(expected_seq) + " is missing");
                                 }
                                 ++expected_seq;
                                 record.clear();
                                 AppendJournalRecord(row.seq, row.committed_at_us, row.patchset,
                                                     &record);
                                 manifest.point_us = std::max(manifest.point_us, row.committed_at_us);
                                 ++manifest.journal_rows;
                                 return w.Append(record);
                               });
        },
        0));
    if (expected_seq != manifest.journal_to_seq + 1) {
      return DataLoss("change journal: rows after " + std::to_string(expected_seq - 1) +
                      " are missing");
    }

    // The audit log after the predecessor, in one snapshot.
    ASSIGN_OR_RETURN(std::unique_ptr<sql::AuditReader> audit,
                     sql::AuditReader::Open(options_.audit_db_path));
    RETURN_IF_ERROR(audit->BeginSnapshot());
    struct SnapshotEnder {
      sql::AuditReader* reader;
      ~SnapshotEnder() { reader->EndSnapshot().IgnoreError(); }
    } ender{audit.get()};
    ASSIGN_OR_RETURN(sql::AuditBounds audit_bounds, audit->Bounds());
    manifest.audit_after_seq = previous->audit_to_seq;
    manifest.audit_to_seq = std::max(previous->audit_to_seq, audit_bounds.last_seq);
    manifest.audit_checkpoint_after_rowid = previous->audit_checkpoint_to_rowid;
    manifest.audit_checkpoint_to_rowid =
        std::max(previous->audit_checkpoint_to_rowid, audit_bounds.checkpoint_rowid);
    manifest.alert_id = std::max(previous->alert_id, audit_bounds.alert_id);
    manifest.audit_last_time_us = std::max(previous->audit_last_time_us, audit_bounds.last_time_us);
    int64_t expected_entry = manifest.audit_after_seq + 1;
    RETURN_IF_ERROR(write_piece(
        kPieceAudit,
        [&](PieceWriter& w) -> Status {
          std::string record;
          RETURN_IF_ERROR(audit->ScanEntries(
              manifest.audit_after_seq, manifest.audit_to_seq,
              [&](const store::AuditEntryView& entry) -> Status {
                if (entry.seq != expected_entry) {
                  return DataLoss("audit log: entry " + std::to_string(expected_entry) +
                                  " is missing");
                }
                ++expected_entry;
                record.clear();
                AppendEntryRecord(entry, &record);
                ++manifest.audit_entries;
                return w.Append(record);
              }));
          ASSIGN_OR_RETURN(sql::AuditDelta delta,
                           audit->Delta(manifest.audit_checkpoint_after_rowid,
                                        manifest.audit_checkpoint_to_rowid, previous->alert_id,
                                        previous->created_at_us));
          record.clear();
          for (const sql::AuditCheckpointWithRowid& c : delta.checkpoints) {
            AppendCheckpointRecord(c.rowid, c.row, &record);
          }
          for (const store::AlertRow& alert : delta.alerts) AppendAlertRecord(alert, &record);
          for (const store::LoginIpRow& login : delta.login_ips) AppendLoginIpRecord(login, &record);
          if (delta.head) AppendHeadRecord(*delta.head, &record);
          return w.Append(record);
        },
        0));
    if (expected_entry != manifest.audit_to_seq + 1) {
      return DataLoss("audit log: entries after " + std::to_string(expected_entry - 1) +
                      " are missing");
    }
  }

  // The manifest last; then the directory appears under its name at once.
  ASSIGN_OR_RETURN(std::string manifest_file, SealManifest(manifest, keyring_));
  RETURN_IF_ERROR(WriteNewFile(staging + "/" + kManifestFileName, manifest_file));
  RETURN_IF_ERROR(FsyncDirectory(staging));
  const std::string final_path = location + "/" + manifest.id;
  RETURN_IF_ERROR(RenameDurably(staging, final_path));
  staging_dir->Keep();

  BackupResult result;
  result.manifest_sm3.assign(crypto::DigestView(crypto::Sm3(manifest_file)));
  result.path = final_path;

  // The shred ledger travels with the backups (R-CRY-5): the location's
  // copy is the union of what it had, the data directory's file and the
  // snapshot's table.
  if (!options_.shred_ledger_path.empty()) {
    Result<store::ShredLedgerContents> ledger = store::ReadShredLedger(options_.shred_ledger_path);
    if (ledger.ok()) {
      shredded.insert(shredded.end(), ledger->entries.begin(), ledger->entries.end());
    } else if (ledger.status().code() != ErrorCode::kNotFound) {
      return ledger.status();
    }
  }
  // It now holds every deletion up to this backup (the snapshot's table,
  // and the deletes since, which the vault appends to this copy directly):
  // the "@as-of" claim a restore checks (issue 10.2).
  RETURN_IF_ERROR(store::MergeShredLedger(location + "/" + store::kShredLedgerFileName, shredded,
                                          manifest.created_at_us));
  // The data directory's copy makes the same claim, so that a restore given
  // --source-data-dir (the online restore, the restore tests) can rely on it.
  if (!options_.shred_ledger_path.empty()) {
    RETURN_IF_ERROR(store::MergeShredLedger(options_.shred_ledger_path, shredded,
                                            manifest.created_at_us));
  }

  // The newest backup's position; the journal below it is no longer needed
  // by backups.
  RETURN_IF_ERROR(sql::PutBackupCursor(options_.custvault_db_path, kCursorBackupJournalSeq,
                                       manifest.journal_to_seq, env_->NowMicros()));
  lock.reset();
  ASSIGN_OR_RETURN(result.journal_rows_pruned, PruneJournal());
  result.manifest = std::move(manifest);
  result.seconds = SecondsSince(start);
  return result;
}

Result<int64_t> BackupEngine::PruneJournal() {
  ASSIGN_OR_RETURN(int64_t up_to,
                   sql::GetBackupCursor(options_.custvault_db_path, kCursorBackupJournalSeq));
  if (options_.shipping_active) {
    ASSIGN_OR_RETURN(const int64_t shipped,
                     sql::GetBackupCursor(options_.custvault_db_path, kCursorShipJournalSeq));
    up_to = std::min(up_to, shipped);
  }
  if (up_to <= 0) return int64_t{0};
  return sql::PruneJournal(options_.custvault_db_path, up_to);
}

// ---- verification ----

Result<VerifyResult> BackupEngine::Verify(const std::string& id, const ProgressFn& progress) {
  const auto start = std::chrono::steady_clock::now();
  VerifyResult result;
  std::string file;
  ASSIGN_OR_RETURN(result.manifest, ReadManifest(options_.location, id, &file));
  const Manifest& manifest = result.manifest;
  result.manifest_sm3.assign(crypto::DigestView(crypto::Sm3(file)));
  Status mac = VerifyManifestMac(file, keyring_);
  if (!mac.ok()) return Status(mac.code(), "backup " + id + ": " + mac.message());
  if (manifest.kind != BackupKind::kFull) {
    std::string previous_file;
    Result<Manifest> previous = ReadManifest(options_.location, manifest.previous_id, &previous_file);
    if (previous.ok()) {
      if (crypto::DigestView(crypto::Sm3(previous_file)) != manifest.previous_manifest_sm3) {
        return DataLoss("backup " + id + ": its predecessor " + manifest.previous_id +
                        " is not the backup it followed (manifest SM3 differs)");
      }
    } else if (previous.status().code() != ErrorCode::kNotFound) {
      return previous.status();
    }
  }
  ASSIGN_OR_RETURN(ArchiveCipher cipher, OpenArchiveCipher(manifest, keyring_));
  Progress shown;
  shown.pieces_total = static_cast<int>(manifest.pieces.size());
  for (size_t i = 0; i < manifest.pieces.size(); ++i) {
    const PieceInfo& piece = manifest.pieces[i];
    ASSIGN_OR_RETURN(std::unique_ptr<PieceReader> reader,
                     PieceReader::Open(options_.location + "/" + id + "/" + piece.file, cipher, id,
                                       piece, static_cast<uint32_t>(i), options_.piece.threads,
                                       [&](int64_t done) {
                                         shown.stage = piece.name;
                                         shown.bytes_done = done;
                                         shown.bytes_total = piece.raw_bytes;
                                         if (progress) progress(shown);
                                       }));
    const bool has_records = piece.name == kPieceJournal || piece.name == kPieceAudit;
    RecordDecoder decoder("backup " + id + ": piece " + piece.name);
    RETURN_IF_ERROR(reader->ReadAll([&](std::string_view bytes) -> Status {
      ++result.chunks_checked;
      result.raw_bytes += static_cast<int64_t>(bytes.size());
      if (!has_records) return Status::Ok();
      return decoder.Feed(bytes, [&](Record&&) {
        ++result.records;
        return Status::Ok();
      });
    }));
    if (has_records) RETURN_IF_ERROR(decoder.Finish());
    ++shown.pieces_done;
  }
  result.seconds = SecondsSince(start);
  return result;
}

}  // namespace custvault::backup
