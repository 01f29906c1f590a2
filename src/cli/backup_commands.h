// `custvault backup full|incremental|list|verify|prune` and
// `custvault restore` (R-BAK-1..3).
//
// The backup commands act as the person logged in with `custvault login`
// (the same policy as the API: backup.run to take backups and prune,
// backup.read to list and verify), so they work beside a running server:
// the snapshot is SQLite's own read transaction in WAL mode. Each is
// audited (backup.run, backup.verify). Progress goes to stderr (bytes,
// pieces, rate), results to stdout as JSON.
//
//   custvault backup full|incremental        take a backup into [backup] local_dir
//   custvault backup list                    one JSON line per backup
//   custvault backup verify ID               exit 0 intact, 1 damaged (named), 2 error
//   custvault backup prune                   prune the change journal
//   custvault restore --from DIR --to NEW_DATA_DIR [--at RFC3339] [--backup FULL_ID]
//                     --master-key FILE [--shred-ledger FILE]... [--source-data-dir DIR]
//
// `restore` needs no login: it needs the master key, which is the real
// authority over the data, and it writes only a NEW data directory. It is
// audited (backup.restore) in the restored vault's own log, as the local
// operator. Shipped changes after the chain: `custvault backup restore-shipped`.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "service/actor.h"
#include "service/vault.h"

namespace custvault::cli {

using BackupBody = std::function<Status(service::Vault&, const service::Actor&)>;
// Opens `data_dir` as the logged-in person (the session file is the
// runner's), runs `body`, closes.
using BackupRunner = std::function<Status(const std::string& data_dir, const BackupBody& body)>;

class BackupCommands {
 public:
  ~BackupCommands();
  // After parsing: the exit code if one of these commands ran.
  std::optional<int> RunIfParsed();

 private:
  friend std::unique_ptr<BackupCommands> AddBackupCommands(CLI::App& app, BackupRunner runner,
                                                           std::ostream& out, std::ostream& err);
  struct Options;
  BackupCommands(BackupRunner runner, std::ostream& out, std::ostream& err);
  int Take(bool full);
  int List();
  int Verify();
  int Prune();
  int Restore();
  int Fail(const Status& status, int code = 2);

  BackupRunner runner_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<Options> options_;
};

// Adds `backup full|incremental|list|verify|prune` (creating `backup` when
// absent) and the top-level `restore`; keep the returned object alive until
// after parsing and call RunIfParsed. The backup subcommands get
// --data-dir and --session-file.
std::unique_ptr<BackupCommands> AddBackupCommands(CLI::App& app, BackupRunner runner,
                                                  std::ostream& out, std::ostream& err);

}  // namespace custvault::cli
