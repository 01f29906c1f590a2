// `custvault business add-transaction|add-complaint|close-complaint|
// add-cooperation|list CUSTOMER_ID ...` (R-TAG-2): a customer's business
// records through the same BusinessService as the HTTP API, as the person
// logged in with `custvault login` (the policy and the audit apply as to
// the API). Records are printed as JSON in the API's shapes.
//
// Summaries may hold personal data, so they are read from a file or from
// standard input (--summary-file F or -), never from the command line,
// where they would end up in the shell history and the process list.
//
// Wiring (cli/main.cc):
//   auto business = AddBusinessCommands(app, runner, std::cout, std::cerr);
//   CLI11_PARSE(app, argc, argv);
//   if (auto code = business->RunIfParsed()) return *code;
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "service/actor.h"
#include "service/business_service.h"

namespace custvault::cli {

using BusinessBody = std::function<Status(service::BusinessService&, const service::Actor&)>;
// Opens `data_dir`, authenticates the session in `session_file`, runs
// `body`, closes; returns the body's status (or the opening error).
using BusinessSessionRunner = std::function<Status(
    const std::string& data_dir, const std::string& session_file, const BusinessBody& body)>;

class BusinessCommands {
 public:
  ~BusinessCommands();
  // After CLI parsing: the exit code if a business subcommand ran
  // (0 done, 1 refused or failed with the reason on stderr), else nullopt.
  std::optional<int> RunIfParsed();

 private:
  friend std::unique_ptr<BusinessCommands> AddBusinessCommands(CLI::App& app,
                                                               BusinessSessionRunner runner,
                                                               std::ostream& out,
                                                               std::ostream& err);
  struct Options;
  BusinessCommands(BusinessSessionRunner runner, std::ostream& out, std::ostream& err);
  int Run(const BusinessBody& body);
  int AddTransaction();
  int AddComplaint();
  int CloseComplaint();
  int AddCooperation();
  int List();
  Result<std::string> ReadSummary() const;

  BusinessSessionRunner runner_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<Options> options_;
};

// Adds `business` and its subcommands to `app`; keep the returned object
// alive until after parsing and call RunIfParsed on it.
std::unique_ptr<BusinessCommands> AddBusinessCommands(CLI::App& app, BusinessSessionRunner runner,
                                                      std::ostream& out, std::ostream& err);

}  // namespace custvault::cli
