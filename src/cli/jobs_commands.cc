#include "cli/jobs_commands.h"

#include <boost/json.hpp>
#include <ostream>

#include "cli/user_commands.h"
#include "http/jobs_routes.h"

namespace custvault::cli {
namespace json = boost::json;

JobsCommands::JobsCommands(CLI::App& app, OpenVaultFunction open, std::ostream& out,
                           std::ostream& err)
    : open_(std::move(open)), out_(out), err_(err), session_file_(DefaultSessionFile()) {
  auto common = [this](CLI::App* command) {
    command->add_option("--data-dir,-d", data_dir_, "Data directory (config, keys, database)")
        ->capture_default_str();
    command
        ->add_option("--session-file", session_file_, "Session token written by `custvault login`")
        ->capture_default_str();
  };
  jobs_ = app.add_subcommand("jobs", "Timed jobs (re-classification, backups): list, run now");
  jobs_->require_subcommand(1);
  list_ = jobs_->add_subcommand(
      "list",
      "Every job: schedule, last run and result, next run (auditor, security officer, "
      "sys_admin)");
  common(list_);
  run_ = jobs_->add_subcommand(
      "run", "Run a job now in this process and wait for it (sys_admin; audited as job.run)");
  common(run_);
  run_->add_option("name", name_, "Job name, as `jobs list` shows it")->required();
}

bool JobsCommands::Parsed() const { return jobs_->parsed(); }

int JobsCommands::Fail(const Status& status) {
  err_ << "custvault: " << status.ToString() << "\n";
  return 1;
}

int JobsCommands::Run() {
  Result<service::Vault*> vault = open_(data_dir_);
  if (!vault.ok()) return Fail(vault.status());
  Result<service::Actor> actor = SessionActorFromFile((*vault)->accounts(), session_file_);
  if (!actor.ok()) return Fail(actor.status());
  if (list_->parsed()) {
    Result<std::vector<jobs::JobStatus>> list = (*vault)->jobs().List(*actor);
    if (!list.ok()) return Fail(list.status());
    json::array items;
    for (const jobs::JobStatus& status : *list) items.push_back(http::JobStatusJson(status));
    out_ << json::serialize(json::object{{"items", std::move(items)}}) << "\n";
    return 0;
  }
  if (run_->parsed()) {
    const Status run = (*vault)->jobs().RunNow(*actor, name_);
    if (!run.ok()) return Fail(run);
    out_ << "Job " << name_ << " finished: ok\n";
    return 0;
  }
  return 2;
}

}  // namespace custvault::cli
