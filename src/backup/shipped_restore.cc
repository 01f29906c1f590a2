// Owned by the shipping/operations work (issue 6).
#include "backup/shipped_restore.h"

#include <chrono>
#include <map>
#include <set>
#include <span>

#include "audit/checkpoint.h"
#include "audit/verify.h"
#include "backup/archive.h"
#include "backup/files.h"
#include "backup/journal_batch.h"
#include "backup/segment_archive.h"
#include "backup/shipper.h"
#include "common/config.h"
#include "common/encoding.h"
#include "crypto/keyring.h"
#include "crypto/secret.h"
#include "store/shred_ledger.h"
#include "store/sqlite/change_journal.h"
#include "store/sqlite/patchset.h"
#include "store/sqlite/sqlite_audit_store.h"
#include "store/sqlite/sqlite_backup.h"

namespace custvault::backup {
namespace {

namespace sql = store::sqlite;

constexpr size_t kConfigBytesMax = size_t{1} << 20;


Status AddLedgerFile(const std::string& path, std::set<store::ShredEntry>* out) {
  Result<store::ShredLedgerContents> ledger = store::ReadShredLedger(path);
  if (!ledger.ok()) {
    if (ledger.status().code() == ErrorCode::kNotFound) return Status::Ok();
    return ledger.status();
  }
  out->insert(ledger->entries.begin(), ledger->entries.end());
  return Status::Ok();
}

std::string Trimmed(const std::string& path) {
  return !path.empty() && path.back() == '/' ? path.substr(0, path.size() - 1) : path;
}

struct TreeCleaner {
  std::string path;
  bool keep = false;
  ~TreeCleaner() {
    if (!keep && !path.empty()) RemoveTree(path).IgnoreError();
  }
};

}  // namespace

Result<ShippedRestoreReport> RestoreWithShipped(Env* env, const RestoreOptions& options,
                                                const std::string& segments_dir) {
  const auto start = std::chrono::steady_clock::now();
  ShippedRestoreReport report;
  const std::string target = Trimmed(options.to);
  if (target.empty()) return InvalidArgument("--to: give the new data directory");
  if (PathExists(target)) {
    if (!IsDirectory(target)) return InvalidArgument("--to: " + target + " is not a directory");
    ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(target));
    if (!names.empty()) {
      return InvalidArgument("--to: " + target +
                             " is not empty; a restore goes into a new data directory only");
    }
  }

  // 1. The chain, by the core, beside the target.
  std::string random(4, '\0');
  RETURN_IF_ERROR(env->RandomBytes(
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(random.data()), random.size())));
  const std::string parent = ParentDirectory(target);
  const size_t slash = target.find_last_of('/');
  const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
  const std::string staging = parent + "/." + base + ".shipped-" + HexEncode(random);
  TreeCleaner cleaner{staging};
  RestoreOptions chain_options = options;
  chain_options.to = staging;
  ASSIGN_OR_RETURN(report.chain, Restore(env, chain_options));
  report.restored_to_us = report.chain.restored_to_us;
  report.customers = report.chain.customers;
  report.audit_entries = report.chain.audit_entries;

  // Where the chain ends.
  ASSIGN_OR_RETURN(Manifest last, ReadManifest(options.from, report.chain.chain.back()));
  int64_t journal_seq = last.journal_to_seq;
  int64_t audit_seq = last.audit_to_seq;

  // The restored configuration says the profile and file names.
  ASSIGN_OR_RETURN(std::string config_text,
                   ReadWholeFile(staging + "/custvault.toml", kConfigBytesMax));
  ASSIGN_OR_RETURN(Config config, ParseConfig(config_text, staging, {}));
  const std::string db_path = staging + "/" + config.storage.sqlite_file;
  const std::string audit_path = staging + "/" + sql::kAuditDatabaseFileName;

  // 2. Which segments continue the chain.
  std::vector<ShippedSegmentInfo> selected;
  std::unique_ptr<crypto::Keyring> keyring;
  std::set<uint32_t> backup_keys_loaded;
  if (!segments_dir.empty()) {
    ASSIGN_OR_RETURN(keyring, crypto::Keyring::Open(env, options.master_key_path,
                                                    config.crypto.profile == "gm"
                                                        ? crypto::CryptoProfile::kGm
                                                        : crypto::CryptoProfile::kDefault,
                                                    /*create_if_missing=*/false));
    ArchiveSegmentFormat lister(env, *keyring, {}, {});
    Result<std::vector<ShippedSegmentInfo>> listed = lister.List(segments_dir);
    if (!listed.ok() && listed.status().code() != ErrorCode::kNotFound) return listed.status();
    int64_t j = journal_seq, a = audit_seq;
    if (listed.ok()) {
      for (const ShippedSegmentInfo& info : *listed) {
        if (info.journal_to_seq <= j && info.audit_to_seq <= a) continue;  // in the chain already
        if (info.journal_from_seq > j + 1 || info.audit_from_seq > a + 1) {
          report.stopped = "shipped changes after journal row " + std::to_string(j) +
                           " / audit entry " + std::to_string(a) + " are missing (segment " +
                           info.name + " starts at row " + std::to_string(info.journal_from_seq) +
                           ", entry " + std::to_string(info.audit_from_seq) + ")";
          break;
        }
        if (!selected.empty() && info.previous_name != selected.back().name) {
          return DataLoss("shipped segment " + info.name + " follows " + selected.back().name +
                          " but names " +
                          (info.previous_name.empty() ? std::string("none") : info.previous_name) +
                          " as its predecessor (swapped or replaced)");
        }
        j = std::max(j, info.journal_to_seq);
        a = std::max(a, info.audit_to_seq);
        selected.push_back(info);
      }
    }
  }

  // 3. Apply them, each verified in full first.
  ASSIGN_OR_RETURN(std::unique_ptr<sql::RestoredDatabase> db, sql::RestoredDatabase::Open(db_path));
  std::set<store::ShredEntry> shred;
  if (!selected.empty()) {
    // Keys: the backup key each manifest carries, and the restored domain
    // keys (the audit key makes a new head when needed).
    for (const ShippedSegmentInfo& info : selected) {
      ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(segments_dir, info.name));
      if (backup_keys_loaded.insert(manifest.backup_key.version).second) {
        Status loaded = keyring->LoadDomainKey(manifest.backup_key);
        if (!loaded.ok()) {
          return DataLoss("shipped segment " + info.name +
                          ": its backup key does not open with this master key (" +
                          loaded.message() + ")");
        }
      }
    }
    ASSIGN_OR_RETURN(std::vector<store::StoredKey> keys, db->Keys());
    for (const store::StoredKey& key : keys) {
      if (key.purpose == kBackupKeyPurpose && backup_keys_loaded.count(key.version) != 0) continue;
      Status loaded = keyring->LoadDomainKey({key.purpose, key.version, key.wrapped});
      if (!loaded.ok()) {
        return DataLoss("the restored domain key " + key.purpose + " v" +
                        std::to_string(key.version) + " does not open with this master key");
      }
    }
    ArchiveSegmentFormat reader(env, *keyring, {}, {});
    ASSIGN_OR_RETURN(std::unique_ptr<sql::RestoredAuditDatabase> audit,
                     sql::RestoredAuditDatabase::Open(audit_path));
    RETURN_IF_ERROR(db->BeginBatch());
    RETURN_IF_ERROR(audit->Begin());
    std::optional<store::AuditEntryRow> last_entry;
    std::optional<store::AuditHeadRow> last_head;
    std::set<int64_t> checkpoints_inserted;
    std::string previous_sm3;
    bool cut = false;
    PatchsetBatch batch;
    for (const ShippedSegmentInfo& info : selected) {
      ASSIGN_OR_RETURN(ShippedSegment segment, reader.Read(segments_dir, info.name));
      if (!previous_sm3.empty() && !crypto::ConstantTimeEqual(segment.previous_manifest_sm3,
                                                              previous_sm3)) {
        return DataLoss("shipped segment " + info.name +
                        ": its predecessor's manifest is not the one it followed (SM3 differs: "
                        "replaced or swapped)");
      }
      previous_sm3 = info.manifest_sm3;
      for (const JournalRecord& row : segment.journal) {
        if (row.seq <= journal_seq) continue;  // the chain (or an overlap) has it
        journal_seq = row.seq;
        RETURN_IF_ERROR(CollectShredRecords(row.patchset, &shred));
        if (options.at_us && row.committed_at_us > *options.at_us) {
          ++report.journal_rows_after_point;
          continue;
        }
        Status added = batch.Add(row.patchset);
        if (!added.ok()) {
          return Status(added.code(), "shipped segment " + info.name + ": journal row " +
                                          std::to_string(row.seq) + ": " + added.message());
        }
        if (batch.Full()) {
          Status applied = batch.ApplyTo(*db);
          if (!applied.ok()) {
            return Status(applied.code(), "shipped segment " + info.name + " (rows up to " +
                                              std::to_string(row.seq) + "): " + applied.message());
          }
        }
        report.restored_to_us = std::max(report.restored_to_us, row.committed_at_us);
        ++report.journal_rows_applied;
      }
      for (const store::AuditEntryRow& entry : segment.audit_entries) {
        if (entry.seq <= audit_seq) continue;
        audit_seq = entry.seq;
        if (cut || (options.at_us && entry.time_us > *options.at_us)) {
          cut = true;  // entries are in time order: the rest are later still
          continue;
        }
        RETURN_IF_ERROR(audit->InsertEntry(entry));
        last_entry = entry;
        ++report.audit_entries_applied;
      }
      for (const store::AuditCheckpointRow& checkpoint : segment.audit_checkpoints) {
        if (checkpoint.seq <= last.audit_to_seq || !last_entry || checkpoint.seq > last_entry->seq ||
            !checkpoints_inserted.insert(checkpoint.seq).second) {
          continue;
        }
        RETURN_IF_ERROR(audit->InsertCheckpoint(checkpoint));
      }
      if (segment.audit_head && last_entry && segment.audit_head->seq == last_entry->seq &&
          segment.audit_head->hash == last_entry->hash) {
        last_head = segment.audit_head;
      }
      report.segments.push_back(info.name);
    }
    Status applied = batch.ApplyTo(*db);
    if (!applied.ok()) {
      return Status(applied.code(), "shipped segments up to " + selected.back().name + ": " +
                                        applied.message());
    }
    RETURN_IF_ERROR(db->CommitBatch());
    if (last_entry) {
      if (!last_head || last_head->seq != last_entry->seq) {
        ASSIGN_OR_RETURN(store::AuditHeadRow head,
                         audit::MakeHead(*keyring, last_entry->seq, last_entry->hash,
                                         last_entry->time_us));
        last_head = head;
      }
      RETURN_IF_ERROR(audit->PutHead(*last_head));
    }
    RETURN_IF_ERROR(audit->Commit());
    RETURN_IF_ERROR(audit->Checkpoint());
  }

  // 4. Shredding with every ledger there is, and the finish.
  RETURN_IF_ERROR(AddLedgerFile(staging + "/" + store::kShredLedgerFileName, &shred));
  if (!segments_dir.empty()) {
    RETURN_IF_ERROR(AddLedgerFile(ParentDirectory(Trimmed(segments_dir)) + "/" +
                                      store::kShredLedgerFileName,
                                  &shred));
  }
  RETURN_IF_ERROR(AddLedgerFile(options.from + "/" + store::kShredLedgerFileName, &shred));
  if (!options.source_data_dir.empty()) {
    RETURN_IF_ERROR(
        AddLedgerFile(options.source_data_dir + "/" + store::kShredLedgerFileName, &shred));
  }
  for (const std::string& path : options.shred_ledgers) RETURN_IF_ERROR(AddLedgerFile(path, &shred));
  ASSIGN_OR_RETURN(std::vector<store::ShredEntry> table, db->ShreddedCustomers());
  shred.insert(table.begin(), table.end());
  const std::vector<store::ShredEntry> ledger(shred.begin(), shred.end());
  ASSIGN_OR_RETURN(report.shredded, db->Shred(ledger));
  RETURN_IF_ERROR(db->ClearSourceState());
  ASSIGN_OR_RETURN(report.customers, db->CountCustomers());
  db.reset();
  if (!selected.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<sql::SqliteAuditStore> audit_store,
                     sql::SqliteAuditStore::Open({.path = audit_path, .readers = 1}));
    ASSIGN_OR_RETURN(audit::VerifyReport verified, audit::VerifyChain(*audit_store, *keyring));
    if (!verified.intact()) {
      return DataLoss("the audit log restored with shipped changes does not verify: " +
                      std::string(audit::DamageName(verified.damage)) + " at entry " +
                      std::to_string(verified.first_bad_seq) + ": " + verified.detail);
    }
    report.audit_entries = verified.entries_checked;
  }
  RETURN_IF_ERROR(store::MergeShredLedger(staging + "/" + store::kShredLedgerFileName, ledger));
  RETURN_IF_ERROR(FsyncDirectory(staging));
  RETURN_IF_ERROR(RenameDurably(staging, target));
  cleaner.keep = true;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace custvault::backup
