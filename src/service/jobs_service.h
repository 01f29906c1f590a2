// JobsService: who may see and start the scheduler's jobs (jobs/scheduler.h),
// shared by the HTTP API (http/jobs_routes) and the CLI (cli/jobs_commands).
//
// - List: operation jobs.read (policy table: auditor, security officer,
//   system administrator). Not audited: it shows no customer data.
// - RunNow: system administrators only for now (the policy table has no
//   per-job operation yet); each run is audited as job.run with the job's
//   name and outcome (error code only, never a message), after it ends. A
//   denial is audited as access.denied. No audit, no success: if the entry
//   cannot be written, RunNow fails even though the job ran.
//
// Thread safety: every method may be called from many threads (the
// scheduler serialises runs).
#pragma once

#include <string>
#include <vector>

#include "jobs/scheduler.h"
#include "service/account_service.h"
#include "service/actor.h"
#include "service/audit_service.h"

namespace custvault::service {

class JobsService {
 public:
  // All three must outlive the service.
  JobsService(jobs::Scheduler& scheduler, AccountService& accounts, AuditRecorder& audit)
      : scheduler_(scheduler), accounts_(accounts), audit_(audit) {}

  Result<std::vector<jobs::JobStatus>> List(const Actor& actor);

  // Runs the job on the caller's thread and returns its status.
  // kPermissionDenied unless a staff sys_admin; kNotFound for an unknown
  // name; kUnavailable if it is running already.
  Status RunNow(const Actor& actor, const std::string& name);

 private:
  jobs::Scheduler& scheduler_;
  AccountService& accounts_;
  AuditRecorder& audit_;
};

}  // namespace custvault::service
