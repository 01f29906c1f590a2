// `custvault audit verify|search|export|alerts|checkpoints` (R-AUD-2, -4).
//
// The commands run against an AuditService the caller opens: main.cc
// passes a runner that opens the data directory (the vault, with its
// keyring and audit log), calls the body with the service and the local
// operator's Actor, and closes it again.
//
//   custvault audit verify --data-dir D       exit 0 intact, 1 broken (the
//                                             first bad entry is named), 2 error
//   custvault audit search [filters]          JSON lines on stdout
//   custvault audit export [filters] [-o F]   CSV (audited as audit.export)
//   custvault audit alerts [--open] [--ack ID]
//   custvault audit checkpoints               JSON lines of every checkpoint
//                                             and the head, to keep off the machine
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "service/actor.h"
#include "service/audit_service.h"

namespace custvault::cli {

using AuditBody = std::function<Status(service::AuditService&, const service::Actor&)>;
// Opens `data_dir`, runs `body`, closes; returns the body's status (or the
// opening error).
using AuditSessionRunner =
    std::function<Status(const std::string& data_dir, const AuditBody& body)>;

class AuditCommands {
 public:
  // `out` / `err` are where results and progress go (std::cout / std::cerr).
  AuditCommands(AuditSessionRunner runner, std::ostream& out, std::ostream& err);
  ~AuditCommands();

  // After CLI parsing: the exit code if an audit subcommand ran, else nullopt.
  std::optional<int> RunIfParsed();

 private:
  friend std::unique_ptr<AuditCommands> AddAuditCommands(CLI::App& app, AuditSessionRunner runner,
                                                         std::ostream& out, std::ostream& err);
  struct Options;
  int Verify();
  int Search();
  int Export();
  int Alerts();
  int Checkpoints();
  int Fail(const Status& status);
  Status FillSearch(service::AuditSearch* search);

  AuditSessionRunner runner_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<Options> options_;
};

// Adds `audit` and its subcommands to `app`; keep the returned object alive
// until after parsing and call RunIfParsed on it.
std::unique_ptr<AuditCommands> AddAuditCommands(CLI::App& app, AuditSessionRunner runner,
                                                std::ostream& out, std::ostream& err);

}  // namespace custvault::cli
