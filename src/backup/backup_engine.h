// BackupEngine: writes full and incremental backups of one data directory
// into a backup location, lists and verifies them, and prunes the change
// journal (R-BAK-1, R-BAK-3). The archive format is archive.h; the SQL side
// is store/sqlite/sqlite_backup.h. No policy or audit here: the service
// layer (service/backup_service.h) asks the policy and audits.
//
//   full         a consistent snapshot of custvault.db (journal position
//                recorded) and audit.db, and the configuration, while the
//                server runs
//   incremental  the journal rows and audit rows after the previous backup
//                of the chain (full or incremental) in the same location;
//                it names that backup and the SM3 of its manifest
//
// Crash safety: a backup is built in <location>/.partial-<id>/ and renamed
// to <location>/<id>/ only after its manifest is written and everything is
// fsynced; a leftover .partial-* directory (a process killed mid-backup) is
// never listed and is removed by the next backup. One backup at a time per
// location (an flock on <location>/.lock; a second one gets kUnavailable).
// After a backup the journal is pruned up to the position both the backups
// and the shipping (when it runs) have passed.
//
// Thread safety: one call at a time per engine (the lock serialises
// processes too). Errors: kUnavailable (another backup runs), kConflict
// (an incremental without a usable predecessor: take a full backup),
// kDataLoss (a damaged backup, named), kInternal (I/O).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backup/archive.h"
#include "backup/piece_io.h"
#include "common/config.h"
#include "common/env.h"
#include "common/status.h"
#include "crypto/keyring.h"
#include "store/store.h"

namespace custvault::backup {

// backup_state cursors in custvault.db (store/sqlite/sqlite_backup.h).
inline constexpr char kCursorBackupJournalSeq[] = "backup.journal_seq";  // newest backup's position
inline constexpr char kCursorShipJournalSeq[] = "ship.journal_seq";      // shipping's position
inline constexpr char kPartialPrefix[] = ".partial-";
inline constexpr char kLockFileName[] = ".lock";

struct EngineOptions {
  std::string custvault_db_path;
  std::string audit_db_path;
  std::string config_path;        // custvault.toml, archived with each full backup
  std::string shred_ledger_path;  // data_dir/shred-ledger, copied to the location
  std::string location;           // the local backup directory
  std::string crypto_profile = "default";
  bool shipping_active = false;  // prune only what shipping has passed too
  PieceOptions piece;
};

struct Progress {
  std::string stage;  // "snapshot", "custvault.db", "audit.db", "journal", "verify", ...
  int64_t bytes_done = 0;
  int64_t bytes_total = 0;  // 0 when unknown
  int pieces_done = 0;
  int pieces_total = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

struct BackupResult {
  Manifest manifest;
  std::string manifest_sm3;  // 32 bytes
  std::string path;          // the backup's directory
  double seconds = 0;
  int64_t journal_rows_pruned = 0;
};

struct BackupListing {
  std::string id;        // the directory name
  std::string path;
  std::optional<Manifest> manifest;  // absent when the manifest does not parse
  std::string problem;               // why it is not usable ("" when fine)
};

struct VerifyResult {
  Manifest manifest;
  std::string manifest_sm3;
  int64_t chunks_checked = 0;
  int64_t raw_bytes = 0;
  int64_t records = 0;  // journal and audit records decoded (incrementals)
  double seconds = 0;
};

// The engine options for a data directory's configuration: its database,
// audit log, configuration file and shred ledger, [backup] chunk_bytes and
// zstd_level, shipping active when [backup] shipping is on and offsite_dir
// is set. `location` "" means [backup] local_dir.
EngineOptions EngineOptionsFromConfig(const Config& config, const std::string& location = "");

// The newest "backup" domain key as stored (wrapped by the master key).
Result<crypto::WrappedKey> CurrentBackupKey(store::Store& store);

// Every backup directory of a location, oldest first (hidden .partial-*
// directories are not backups and are left out). Needs no key.
Result<std::vector<BackupListing>> ListBackups(const std::string& location);

// Reads and parses <location>/<id>/manifest.json; kNotFound if absent.
// *file receives the file bytes (for its SM3 and MAC).
Result<Manifest> ReadManifest(const std::string& location, const std::string& id,
                              std::string* file = nullptr);

// The archive key of a backup, unsealed with the backup key the keyring
// holds (kNotFound if that key is not loaded).
Result<ArchiveCipher> OpenArchiveCipher(const Manifest& manifest, const crypto::Keyring& keyring);

class BackupEngine {
 public:
  // `backup_key`: the "backup" domain key as stored (wrapped by the master
  // key), written into each manifest. All references outlive the engine.
  BackupEngine(Env* env, EngineOptions options, const crypto::Keyring& keyring,
               crypto::WrappedKey backup_key);

  Result<BackupResult> RunFull(const ProgressFn& progress = {});
  Result<BackupResult> RunIncremental(const ProgressFn& progress = {});

  // Checks one backup completely without writing anything: the manifest's
  // MAC, every chunk's SM3, tag and size, every record; and, when its
  // predecessor is in the location, that the predecessor's manifest has the
  // SM3 this one names.
  Result<VerifyResult> Verify(const std::string& id, const ProgressFn& progress = {});

  // Deletes journal rows every consumer has passed (see the file comment).
  Result<int64_t> PruneJournal();

  const EngineOptions& options() const { return options_; }

 private:
  class Writer;
  Result<BackupResult> Run(BackupKind kind, const ProgressFn& progress);

  Env* env_;
  EngineOptions options_;
  const crypto::Keyring& keyring_;
  crypto::WrappedKey backup_key_;
};

}  // namespace custvault::backup
