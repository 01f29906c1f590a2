// `custvault approvals list|show|approve|reject`, `custvault tags
// reclassify|request` and `custvault rules show|propose|dry-run`
// (R-APR-1, R-TAG-1/3/4): the same ApprovalService and TagService as the
// HTTP API, as the person logged in with `custvault login` (the policy,
// the maker-checker rules and the audit apply exactly as to the API).
// Results are printed as JSON in the API's shapes; `tags reclassify`
// shows its progress on standard error.
//
// Wiring (cli/main.cc):
//   auto approvals = AddApprovalCommands(app, runner, std::cout, std::cerr);
//   CLI11_PARSE(app, argc, argv);
//   if (auto code = approvals->RunIfParsed()) return *code;
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "service/actor.h"
#include "service/approval_service.h"
#include "service/tag_service.h"

namespace custvault::cli {

using ApprovalBody = std::function<Status(service::ApprovalService&, service::TagService&,
                                          const service::Actor&)>;
// Opens `data_dir`, authenticates the session in `session_file`, runs
// `body`, closes; returns the body's status (or the opening error).
using ApprovalSessionRunner = std::function<Status(
    const std::string& data_dir, const std::string& session_file, const ApprovalBody& body)>;

class ApprovalCommands {
 public:
  ~ApprovalCommands();
  // After CLI parsing: the exit code if one of these subcommands ran
  // (0 done, 1 refused or failed with the reason on stderr), else nullopt.
  std::optional<int> RunIfParsed();

 private:
  friend std::unique_ptr<ApprovalCommands> AddApprovalCommands(CLI::App& app,
                                                               ApprovalSessionRunner runner,
                                                               std::ostream& out,
                                                               std::ostream& err);
  struct Options;
  ApprovalCommands(ApprovalSessionRunner runner, std::ostream& out, std::ostream& err);
  int Run(const ApprovalBody& body);
  int List();
  int Show();
  int Decide(bool approve);
  int Reclassify();
  int RequestTag();
  int RulesShow();
  int RulesPropose(bool dry_run);

  ApprovalSessionRunner runner_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<Options> options_;
};

// Adds `approvals`, `tags` and `rules` with their subcommands to `app`;
// keep the returned object alive until after parsing.
std::unique_ptr<ApprovalCommands> AddApprovalCommands(CLI::App& app, ApprovalSessionRunner runner,
                                                      std::ostream& out, std::ostream& err);

}  // namespace custvault::cli
