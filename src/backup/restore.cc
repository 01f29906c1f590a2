#include "backup/restore.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "audit/checkpoint.h"
#include "audit/verify.h"
#include "backup/files.h"
#include "backup/journal_batch.h"
#include "backup/records.h"
#include "common/config.h"
#include "common/encoding.h"
#include "crypto/hash.h"
#include "crypto/keyring.h"
#include "store/shred_ledger.h"
#include "store/sqlite/change_journal.h"
#include "store/sqlite/patchset.h"
#include "store/sqlite/sqlite_audit_store.h"
#include "store/sqlite/sqlite_backup.h"

namespace custvault::backup {
namespace {

namespace sql = store::sqlite;

constexpr size_t kConfigBytesMax = size_t{1} << 20;

struct ChainPiece {
  Manifest manifest;
  std::string manifest_file;
};


Status AddLedgerFile(const std::string& path, bool must_exist, std::set<store::ShredEntry>* out,
                     int64_t* as_of_us) {
  Result<store::ShredLedgerContents> ledger = store::ReadShredLedger(path);
  if (!ledger.ok()) {
    if (ledger.status().code() == ErrorCode::kNotFound && !must_exist) return Status::Ok();
    return ledger.status();
  }
  out->insert(ledger->entries.begin(), ledger->entries.end());
  *as_of_us = std::max(*as_of_us, ledger->as_of_us);
  return Status::Ok();
}

Status CheckTarget(const std::string& to) {
  if (to.empty()) return InvalidArgument("--to: give the new data directory");
  if (!PathExists(to)) return Status::Ok();
  if (!IsDirectory(to)) return InvalidArgument("--to: " + to + " exists and is not a directory");
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(to));
  if (!names.empty()) {
    return InvalidArgument("--to: " + to +
                           " is not empty; a restore goes into a new data directory only");
  }
  return Status::Ok();
}

// Follows the chain from `full` through the location's backups; every
// refusal names the backup.
Result<std::vector<ChainPiece>> PlanChain(const std::string& location,
                                          const std::vector<BackupListing>& listings,
                                          const Manifest& full, const std::string& full_file) {
  std::map<std::string, const BackupListing*> by_id;
  for (const BackupListing& listing : listings) {
    // A damaged backup newer than the full might be one of its chain:
    // restoring around it could silently stop short.
    if (listing.id > full.id && !listing.problem.empty()) {
      return DataLoss("backup " + listing.id + " in " + location + " is damaged (" +
                      listing.problem + "); move it away or name another full backup");
    }
    if (listing.manifest && listing.problem.empty()) by_id[listing.id] = &listing;
  }
  std::vector<ChainPiece> chain;
  chain.push_back({full, full_file});
  std::set<std::string> in_chain = {full.id};
  while (true) {
    const ChainPiece& current = chain.back();
    std::vector<const BackupListing*> next;
    for (const auto& [id, listing] : by_id) {
      if (listing->manifest->kind == BackupKind::kIncremental &&
          listing->manifest->previous_id == current.manifest.id) {
        next.push_back(listing);
      }
    }
    if (next.empty()) break;
    if (next.size() > 1) {
      return DataLoss("backups " + next[0]->id + " and " + next[1]->id + " both follow backup " +
                      current.manifest.id + "; name the chain to restore");
    }
    std::string file;
    ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(location, next[0]->id, &file));
    const std::string name = "backup " + manifest.id;
    if (manifest.base_id != full.id) {
      return DataLoss(name + " follows " + current.manifest.id + " but names full backup " +
                      manifest.base_id);
    }
    if (crypto::DigestView(crypto::Sm3(current.manifest_file)) != manifest.previous_manifest_sm3) {
      return DataLoss(name + ": its predecessor " + current.manifest.id +
                      " is not the backup it followed (manifest SM3 differs: replaced or swapped)");
    }
    if (manifest.journal_after_seq != current.manifest.journal_to_seq ||
        manifest.audit_after_seq != current.manifest.audit_to_seq ||
        manifest.audit_checkpoint_after_rowid != current.manifest.audit_checkpoint_to_rowid) {
      return DataLoss(name + ": its journal/audit positions do not continue from " +
                      current.manifest.id);
    }
    if (manifest.schema_version != full.schema_version) {
      return DataLoss(name + ": schema version differs from its full backup");
    }
    in_chain.insert(manifest.id);
    chain.push_back({std::move(manifest), std::move(file)});
  }
  // An incremental of this full that the walk did not reach lost its
  // predecessor.
  for (const auto& [id, listing] : by_id) {
    if (listing->manifest->kind == BackupKind::kIncremental && listing->manifest->base_id == full.id &&
        in_chain.count(id) == 0) {
      return DataLoss("backup " + id + " belongs to full backup " + full.id +
                      " but its predecessor " + listing->manifest->previous_id +
                      " is missing from " + location + " (an incremental was dropped)");
    }
  }
  return chain;
}

}  // namespace

Result<RestoreReport> Restore(Env* env, const RestoreOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  RestoreReport report;
  if (options.from.empty()) return InvalidArgument("--from: give a backup location");
  if (options.master_key_path.empty()) {
    return InvalidArgument("--master-key: give the master key file (never inside a backup)");
  }
  if (options.threads < 1 || options.threads > 16) return InvalidArgument("threads must be 1..16");
  RETURN_IF_ERROR(CheckTarget(options.to));

  // ---- 1. plan ----
  ASSIGN_OR_RETURN(std::vector<BackupListing> listings, ListBackups(options.from));
  const BackupListing* chosen = nullptr;
  if (!options.full_id.empty()) {
    for (const BackupListing& listing : listings) {
      if (listing.id == options.full_id) chosen = &listing;
    }
    if (chosen == nullptr) return NotFound("backup " + options.full_id + " is not in " + options.from);
    if (!chosen->problem.empty()) return DataLoss("backup " + chosen->id + ": " + chosen->problem);
    if (chosen->manifest->kind != BackupKind::kFull)
      return InvalidArgument("backup " + chosen->id + " is not a full backup");
  } else {
    for (auto it = listings.rbegin(); it != listings.rend(); ++it) {
      if (!it->problem.empty() || it->manifest->kind != BackupKind::kFull) continue;
      if (options.at_us && it->manifest->point_us > *options.at_us) continue;
      chosen = &*it;
      break;
    }
    if (chosen == nullptr) {
      return NotFound("no usable full backup in " + options.from +
                      (options.at_us ? " taken at or before " + FormatRfc3339(*options.at_us) : ""));
    }
  }
  std::string full_file;
  ASSIGN_OR_RETURN(Manifest full, ReadManifest(options.from, chosen->id, &full_file));
  if (options.at_us && *options.at_us < full.point_us) {
    return InvalidArgument("the chosen moment is before full backup " + full.id +
                           "'s snapshot (" + FormatRfc3339(full.point_us) +
                           "); name an older full backup or a later moment");
  }
  ASSIGN_OR_RETURN(std::vector<ChainPiece> chain, PlanChain(options.from, listings, full, full_file));
  report.full_id = full.id;
  report.customers_in_full = full.customers;
  for (const ChainPiece& piece : chain) report.chain.push_back(piece.manifest.id);

  // The shred ledgers, and the proof that they are new enough (issue 10.2):
  // one of them must claim completeness ("@as-of") at least up to the
  // newest backup of the location, or a customer deleted after the ledger
  // was last written would come back readable. Refused unless the caller
  // accepts it explicitly (the report and the audit entry say so).
  std::set<store::ShredEntry> ledger_entries;
  RETURN_IF_ERROR(AddLedgerFile(options.from + "/" + store::kShredLedgerFileName, false,
                                &ledger_entries, &report.ledger_as_of_us));
  if (!options.source_data_dir.empty()) {
    RETURN_IF_ERROR(AddLedgerFile(options.source_data_dir + "/" + store::kShredLedgerFileName,
                                  false, &ledger_entries, &report.ledger_as_of_us));
  }
  for (const std::string& path : options.shred_ledgers) {
    RETURN_IF_ERROR(AddLedgerFile(path, true, &ledger_entries, &report.ledger_as_of_us));
  }
  const BackupListing* newest = nullptr;
  for (const BackupListing& listing : listings) {
    if (listing.manifest && (newest == nullptr ||
                             listing.manifest->created_at_us > newest->manifest->created_at_us)) {
      newest = &listing;
    }
  }
  if (newest != nullptr && report.ledger_as_of_us < newest->manifest->created_at_us) {
    if (!options.accept_stale_ledger) {
      return Conflict(
          "no shred ledger is known to be as new as backup " + newest->id +
          (report.ledger_as_of_us > 0
               ? " (the newest is complete up to " + FormatRfc3339(report.ledger_as_of_us) + ")"
               : " (none says how new it is)") +
          ": customers deleted since could come back readable. Give the newest ledger "
          "(--shred-ledger FILE, or --source-data-dir DIR of the lost vault), or "
          "--accept-stale-ledger to restore anyway");
    }
    report.stale_ledger_accepted = true;
  }

  // Keys: the master key opens the backup key each manifest carries.
  ASSIGN_OR_RETURN(std::unique_ptr<crypto::Keyring> keyring,
                   crypto::Keyring::Open(env, options.master_key_path,
                                         full.crypto_profile == "gm" ? crypto::CryptoProfile::kGm
                                                                     : crypto::CryptoProfile::kDefault,
                                         /*create_if_missing=*/false));
  std::set<uint32_t> loaded_backup_keys;
  std::vector<ArchiveCipher> ciphers;
  for (const ChainPiece& piece : chain) {
    const std::string name = "backup " + piece.manifest.id;
    if (loaded_backup_keys.insert(piece.manifest.backup_key.version).second) {
      Status loaded = keyring->LoadDomainKey(piece.manifest.backup_key);
      if (!loaded.ok()) {
        return DataLoss(name + ": its backup key does not open with this master key (" +
                        loaded.message() + ")");
      }
    }
    Status mac = VerifyManifestMac(piece.manifest_file, *keyring);
    if (!mac.ok()) return DataLoss(name + ": " + mac.message());
    ASSIGN_OR_RETURN(ArchiveCipher cipher, OpenArchiveCipher(piece.manifest, *keyring));
    ciphers.push_back(std::move(cipher));
    const bool is_full = piece.manifest.kind == BackupKind::kFull;
    for (const char* required : {is_full ? kPieceCustomerDb : kPieceJournal,
                                 is_full ? kPieceAuditDb : kPieceAudit}) {
      if (piece.manifest.FindPiece(required) == nullptr)
        return DataLoss(name + ": has no piece " + required);
    }
    if (is_full && piece.manifest.FindPiece(kPieceConfig) == nullptr)
      return DataLoss(name + ": has no piece " + kPieceConfig);
  }
  // Every piece file present with the size its manifest says, before
  // anything is written.
  std::vector<std::vector<std::unique_ptr<PieceReader>>> readers(chain.size());
  for (size_t c = 0; c < chain.size(); ++c) {
    const Manifest& m = chain[c].manifest;
    for (size_t i = 0; i < m.pieces.size(); ++i) {
      ASSIGN_OR_RETURN(std::unique_ptr<PieceReader> reader,
                       PieceReader::Open(options.from + "/" + m.id + "/" + m.pieces[i].file,
                                         ciphers[c], m.id, m.pieces[i], static_cast<uint32_t>(i),
                                         options.threads));
      readers[c].push_back(std::move(reader));
    }
  }
  auto reader_of = [&](size_t c, std::string_view piece) -> PieceReader& {
    const Manifest& m = chain[c].manifest;
    for (size_t i = 0; i < m.pieces.size(); ++i) {
      if (m.pieces[i].name == piece) return *readers[c][i];
    }
    return *readers[c][0];  // unreachable: checked above
  };

  // ---- 2. rebuild beside the target ----
  const std::string target = options.to.back() == '/' ? options.to.substr(0, options.to.size() - 1)
                                                      : options.to;
  std::string random(4, '\0');
  RETURN_IF_ERROR(env->RandomBytes(
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(random.data()), random.size())));
  const std::string parent = ParentDirectory(target);
  const std::string base = target.substr(target.find_last_of('/') == std::string::npos
                                             ? 0
                                             : target.find_last_of('/') + 1);
  const std::string staging = parent + "/." + base + ".restoring-" + HexEncode(random);
  RETURN_IF_ERROR(CreateNewDirectory(staging));
  struct StagingCleaner {
    std::string path;
    bool keep = false;
    ~StagingCleaner() {
      if (!keep) RemoveTree(path).IgnoreError();
    }
  } cleaner{staging};

  Progress shown;
  shown.pieces_total = 0;
  for (const ChainPiece& piece : chain) shown.pieces_total += static_cast<int>(piece.manifest.pieces.size());
  auto read_piece = [&](size_t c, std::string_view piece,
                        const std::function<Status(std::string_view)>& sink) -> Status {
    shown.stage = chain[c].manifest.id + "/" + std::string(piece);
    const PieceInfo* info = chain[c].manifest.FindPiece(piece);
    shown.bytes_total = info != nullptr ? info->raw_bytes : 0;
    int64_t done = 0;
    RETURN_IF_ERROR(reader_of(c, piece).ReadAll([&](std::string_view bytes) -> Status {
      done += static_cast<int64_t>(bytes.size());
      report.raw_bytes += static_cast<int64_t>(bytes.size());
      shown.bytes_done = done;
      if (options.progress) options.progress(shown);
      return sink(bytes);
    }));
    ++shown.pieces_done;
    return Status::Ok();
  };

  // The configuration first: it names the database file and the master key file.
  std::string config_text;
  RETURN_IF_ERROR(read_piece(0, kPieceConfig, [&](std::string_view bytes) -> Status {
    config_text.append(bytes);
    if (config_text.size() > kConfigBytesMax) return DataLoss("backup " + full.id + ": configuration over 1 MiB");
    return Status::Ok();
  }));
  Result<Config> config = ParseConfig(config_text, target, {});
  if (!config.ok()) {
    return DataLoss("backup " + full.id + ": its configuration does not parse: " +
                    config.status().message());
  }
  const std::string db_name = config->storage.sqlite_file;
  const std::string key_name = config->crypto.master_key_file;
  if (db_name.find('/') != std::string::npos || key_name.find('/') != std::string::npos ||
      db_name.empty() || key_name.empty()) {
    return DataLoss("backup " + full.id +
                    ": its configuration keeps files outside the data directory; restore by hand");
  }
  const std::string db_path = staging + "/" + db_name;
  const std::string audit_path = staging + "/" + sql::kAuditDatabaseFileName;
  RETURN_IF_ERROR(WriteNewFile(staging + "/" + "custvault.toml", config_text));

  auto write_snapshot = [&](std::string_view piece, const std::string& path) -> Status {
    RETURN_IF_ERROR(WriteNewFile(path, ""));
    FILE* out = std::fopen(path.c_str(), "wb");
    if (out == nullptr) return Internal("cannot write " + path);
    Status status = read_piece(0, piece, [&](std::string_view bytes) -> Status {
      if (std::fwrite(bytes.data(), 1, bytes.size(), out) != bytes.size())
        return Internal("cannot write " + path);
      return Status::Ok();
    });
    if (std::fclose(out) != 0 && status.ok()) status = Internal("cannot write " + path);
    return status;
  };
  RETURN_IF_ERROR(write_snapshot(kPieceCustomerDb, db_path));
  RETURN_IF_ERROR(write_snapshot(kPieceAuditDb, audit_path));

  // ---- 3. replay ----
  std::set<store::ShredEntry> shred;
  ASSIGN_OR_RETURN(std::unique_ptr<sql::RestoredDatabase> db, sql::RestoredDatabase::Open(db_path));
  ASSIGN_OR_RETURN(std::unique_ptr<sql::RestoredAuditDatabase> audit,
                   sql::RestoredAuditDatabase::Open(audit_path));
  report.restored_to_us = full.point_us;
  std::optional<store::AuditHeadRow> last_head;
  int64_t last_entry_seq = full.audit_to_seq;
  bool audit_cut = false;
  for (size_t c = 1; c < chain.size(); ++c) {
    const std::string where = "backup " + chain[c].manifest.id;
    // Journal rows, in order, merged in batches.
    PatchsetBatch batch;
    int64_t expected_seq = chain[c].manifest.journal_after_seq + 1;
    RETURN_IF_ERROR(db->BeginBatch());
    RecordDecoder journal(where + ": piece journal");
    RETURN_IF_ERROR(read_piece(c, kPieceJournal, [&](std::string_view bytes) -> Status {
      return journal.Feed(bytes, [&](Record&& record) -> Status {
        auto* row = std::get_if<JournalRecord>(&record);
        if (row == nullptr) return DataLoss(where + ": piece journal holds a non-journal record");
        if (row->seq != expected_seq) {
          return DataLoss(where + ": piece journal skips from row " +
                          std::to_string(expected_seq - 1) + " to " + std::to_string(row->seq));
        }
        ++expected_seq;
        RETURN_IF_ERROR(CollectShredRecords(row->patchset, &shred));
        if (options.at_us && row->committed_at_us > *options.at_us) {
          ++report.journal_rows_after_point;
          return Status::Ok();
        }
        Status added = batch.Add(row->patchset);
        if (!added.ok()) return DataLoss(where + ": journal row " + std::to_string(row->seq) + ": " + added.message());
        report.restored_to_us = std::max(report.restored_to_us, row->committed_at_us);
        ++report.journal_rows_applied;
        if (batch.Full()) {
          Status applied = batch.ApplyTo(*db);
          if (!applied.ok()) return Status(applied.code(), where + ": " + applied.message());
        }
        return Status::Ok();
      });
    }));
    RETURN_IF_ERROR(journal.Finish());
    if (expected_seq != chain[c].manifest.journal_to_seq + 1) {
      return DataLoss(where + ": piece journal ends at row " + std::to_string(expected_seq - 1) +
                      ", the manifest says " + std::to_string(chain[c].manifest.journal_to_seq));
    }
    Status applied = batch.ApplyTo(*db);
    if (!applied.ok()) return Status(applied.code(), where + ": " + applied.message());
    RETURN_IF_ERROR(db->CommitBatch());

    // Audit rows.
    RETURN_IF_ERROR(audit->Begin());
    RecordDecoder audit_records(where + ": piece audit");
    int64_t expected_entry = chain[c].manifest.audit_after_seq + 1;
    RETURN_IF_ERROR(read_piece(c, kPieceAudit, [&](std::string_view bytes) -> Status {
      return audit_records.Feed(bytes, [&](Record&& record) -> Status {
        if (auto* entry = std::get_if<store::AuditEntryRow>(&record)) {
          if (entry->seq != expected_entry) {
            return DataLoss(where + ": piece audit skips from entry " +
                            std::to_string(expected_entry - 1) + " to " + std::to_string(entry->seq));
          }
          ++expected_entry;
          if (options.at_us && entry->time_us > *options.at_us) {
            audit_cut = true;
            return Status::Ok();
          }
          last_entry_seq = entry->seq;
          return audit->InsertEntry(*entry);
        }
        if (auto* checkpoint = std::get_if<CheckpointRecord>(&record)) {
          if (checkpoint->row.seq > last_entry_seq) return Status::Ok();  // past the point
          return audit->InsertCheckpoint(checkpoint->row);
        }
        if (auto* head = std::get_if<store::AuditHeadRow>(&record)) {
          last_head = *head;
          return Status::Ok();
        }
        if (auto* alert = std::get_if<store::AlertRow>(&record)) {
          if (options.at_us && alert->time_us > *options.at_us) return Status::Ok();
          return audit->UpsertAlert(*alert);
        }
        if (auto* login = std::get_if<store::LoginIpRow>(&record)) return audit->InsertLoginIp(*login);
        return DataLoss(where + ": piece audit holds a journal record");
      });
    }));
    RETURN_IF_ERROR(audit_records.Finish());
    if (expected_entry != chain[c].manifest.audit_to_seq + 1) {
      return DataLoss(where + ": piece audit ends at entry " + std::to_string(expected_entry - 1) +
                      ", the manifest says " + std::to_string(chain[c].manifest.audit_to_seq));
    }
    RETURN_IF_ERROR(audit->Commit());
  }
  report.deletes_already_gone = db->deletes_already_gone();

  // The audit head: the chain's last head when the log ends where it did;
  // a new one (MACed with the restored audit key) when the log was cut.
  ASSIGN_OR_RETURN(std::vector<store::StoredKey> keys, db->Keys());
  for (const store::StoredKey& key : keys) {
    if (key.purpose == kBackupKeyPurpose && loaded_backup_keys.count(key.version) != 0) continue;
    Status loaded = keyring->LoadDomainKey({key.purpose, key.version, key.wrapped});
    if (!loaded.ok()) {
      return DataLoss("the restored domain key " + key.purpose + " v" + std::to_string(key.version) +
                      " does not open with this master key (" + loaded.message() + ")");
    }
  }
  RETURN_IF_ERROR(audit->Begin());
  if (options.at_us) {
    ASSIGN_OR_RETURN(const int64_t before, audit->EntryCount());
    ASSIGN_OR_RETURN(std::optional<store::AuditEntryRow> last, audit->CutAfter(*options.at_us));
    ASSIGN_OR_RETURN(const int64_t after, audit->EntryCount());
    report.audit_entries_cut = before - after;
    if (before != after) audit_cut = true;
    if (audit_cut && last) {
      ASSIGN_OR_RETURN(store::AuditHeadRow head,
                       audit::MakeHead(*keyring, last->seq, last->hash, last->time_us));
      RETURN_IF_ERROR(audit->PutHead(head));
      last_head.reset();
    }
  }
  if (last_head) RETURN_IF_ERROR(audit->PutHead(*last_head));
  RETURN_IF_ERROR(audit->Commit());
  ASSIGN_OR_RETURN(report.audit_entries, audit->EntryCount());
  RETURN_IF_ERROR(audit->Checkpoint());
  audit.reset();

  // ---- 4. shredding ----
  shred.insert(ledger_entries.begin(), ledger_entries.end());
  ASSIGN_OR_RETURN(std::vector<store::ShredEntry> restored_table, db->ShreddedCustomers());
  shred.insert(restored_table.begin(), restored_table.end());
  const std::vector<store::ShredEntry> ledger(shred.begin(), shred.end());
  report.shred_entries = static_cast<int64_t>(ledger.size());
  ASSIGN_OR_RETURN(report.shredded, db->Shred(ledger));

  // ---- 5. finish ----
  RETURN_IF_ERROR(db->ClearSourceState());
  ASSIGN_OR_RETURN(report.customers, db->CountCustomers());
  db.reset();
  {
    ASSIGN_OR_RETURN(std::unique_ptr<sql::SqliteAuditStore> audit_store,
                     sql::SqliteAuditStore::Open({.path = audit_path, .readers = 1}));
    ASSIGN_OR_RETURN(audit::VerifyReport verified, audit::VerifyChain(*audit_store, *keyring));
    if (!verified.intact()) {
      return DataLoss("the restored audit log does not verify: " +
                      std::string(audit::DamageName(verified.damage)) + " at entry " +
                      std::to_string(verified.first_bad_seq) + ": " + verified.detail);
    }
    report.audit_entries_checked = verified.entries_checked;
  }
  RETURN_IF_ERROR(store::AppendShredLedger(staging + "/" + store::kShredLedgerFileName, ledger,
                                           report.stale_ledger_accepted ? 0 : report.ledger_as_of_us));
  RETURN_IF_ERROR(CopyFile(options.master_key_path, staging + "/" + key_name));
  RETURN_IF_ERROR(FsyncDirectory(staging));
  RETURN_IF_ERROR(RenameDurably(staging, target));
  cleaner.keep = true;
  report.custvault_db_path = target + "/" + db_name;
  report.audit_db_path = target + "/" + sql::kAuditDatabaseFileName;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace custvault::backup
