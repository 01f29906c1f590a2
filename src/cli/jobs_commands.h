// `custvault jobs list` and `custvault jobs run NAME`: the scheduler's jobs
// (jobs/scheduler.h) through service::JobsService, as the person logged in
// with `custvault login` (the same policy and audit as the API).
//
//   custvault jobs list [--data-dir D]      JSON: every job, its schedule, last
//                                           run and result, next run (jobs.read)
//   custvault jobs run NAME [--data-dir D]  runs the job now in this process and
//                                           waits for it (sys_admin; audited as
//                                           job.run); exit 1 if it fails
//
// A job run from the CLI is not excluded against the same job running on the
// server's timer at that moment (jobs/scheduler.h says why).
//
// Wiring (cli/main.cc):
//   cli::JobsCommands jobs(app, [&](const std::string& dir) { ... open a Vault ... });
//   CLI11_PARSE(app, argc, argv);
//   if (jobs.Parsed()) return jobs.Run();
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <string>

#include "common/status.h"
#include "service/vault.h"

namespace custvault::cli {

// Opens the data directory; the Vault must stay alive until Run returns.
using OpenVaultFunction = std::function<Result<service::Vault*>(const std::string& data_dir)>;

class JobsCommands {
 public:
  // Adds the subcommands to `app`; `app`, `out` and `err` must outlive this.
  JobsCommands(CLI::App& app, OpenVaultFunction open, std::ostream& out, std::ostream& err);
  JobsCommands(const JobsCommands&) = delete;
  JobsCommands& operator=(const JobsCommands&) = delete;

  bool Parsed() const;
  // 0 on success, 1 on failure (message on stderr).
  int Run();

 private:
  int Fail(const Status& status);

  OpenVaultFunction open_;
  std::ostream& out_;
  std::ostream& err_;
  std::string data_dir_ = "./var";
  std::string session_file_;
  std::string name_;
  CLI::App* jobs_ = nullptr;
  CLI::App* list_ = nullptr;
  CLI::App* run_ = nullptr;
};

}  // namespace custvault::cli
