// Owned by the shipping/operations work (issue 6, R-BAK-2, R-BAK-2a,
// R-OPS-2): the operations subcommands of `custvault backup`.
//
//   custvault backup restore-test [--backup ID]   restore the newest chain (or
//                                   the chain ending at ID) into a scratch
//                                   directory, check it, record the result;
//                                   exit 0 pass, 1 fail (the failed check named)
//   custvault backup restore-tests [--limit N]    the records, newest first
//                                   (JSON lines), and the overdue status
//   custvault backup offsite-copy [--backup ID]   copy finished backups to the
//                                   off-site directory (verified), then retention
//   custvault backup shipping-status              the shipper's progress off-site
//   custvault backup restore-shipped --from L --to D --master-key K [--at T]
//                                   a full backup, its incrementals and the
//                                   shipped changes after them, into a new
//                                   data directory (backup/shipped_restore.h);
//                                   needs no login: it reads only the backup
//                                   location and the master key
//
// They act as the person logged in with `custvault login` (the same policy
// as the API: kBackupRun to run, kBackupRead to read), like every command.
// The `backup` group itself belongs to the backup core (backup full|...);
// these are added to it (or create it when it is not there yet).
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

using BackupOpsBody = std::function<Status(service::Vault&, const service::Actor&)>;
// Opens `data_dir` as the logged-in person (the session file is the
// runner's), runs `body`, closes.
using BackupOpsRunner =
    std::function<Status(const std::string& data_dir, const BackupOpsBody& body)>;

class BackupOpsCommands {
 public:
  ~BackupOpsCommands();
  // After parsing: the exit code if one of these subcommands ran.
  std::optional<int> RunIfParsed();

 private:
  friend std::unique_ptr<BackupOpsCommands> AddBackupOpsCommands(CLI::App& app,
                                                                 BackupOpsRunner runner,
                                                                 std::ostream& out,
                                                                 std::ostream& err);
  struct Options;
  BackupOpsCommands(BackupOpsRunner runner, std::ostream& out, std::ostream& err);
  int RestoreTest();
  int RestoreTests();
  int OffsiteCopy();
  int ShippingStatus();
  int RestoreShipped();
  int Fail(const Status& status);

  BackupOpsRunner runner_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<Options> options_;
};

// Adds the subcommands under `backup` (created when absent); keep the
// returned object alive until after parsing and call RunIfParsed.
std::unique_ptr<BackupOpsCommands> AddBackupOpsCommands(CLI::App& app, BackupOpsRunner runner,
                                                        std::ostream& out, std::ostream& err);

}  // namespace custvault::cli
