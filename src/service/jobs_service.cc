#include "service/jobs_service.h"

#include <boost/json.hpp>

#include "audit/entry.h"
#include "policy/policy.h"

namespace custvault::service {

Result<std::vector<jobs::JobStatus>> JobsService::List(const Actor& actor) {
  RETURN_IF_ERROR(accounts_.Authorize(actor, policy::Operation::kJobsRead));
  return scheduler_.List();
}

Status JobsService::RunNow(const Actor& actor, const std::string& name) {
  if (actor.kind != ActorKind::kStaff || actor.role != Role::kSysAdmin) {
    // Best effort: the denial stands whether or not it could be recorded.
    audit_
        .Record(actor, audit::op::kAccessDenied, "", audit::result::kDenied,
                boost::json::object{{"attempted", audit::op::kJobRun}})
        .status()
        .IgnoreError();
    return PermissionDenied("your role may not do job.run (system administrators only)");
  }
  if (name.empty() || name.size() > jobs::Scheduler::kNameBytesMax) {
    return NotFound("no such job");
  }
  const Status run = scheduler_.RunNow(name);
  if (run.code() == ErrorCode::kNotFound) return run;
  boost::json::object details{{"job", name}};
  if (!run.ok()) details["error"] = ErrorCodeName(run.code());
  Result<int64_t> recorded =
      audit_.Record(actor, audit::op::kJobRun, "",
                    run.ok() ? audit::result::kOk : audit::result::kFailed, std::move(details));
  if (!recorded.ok()) return recorded.status();
  return run;
}

}  // namespace custvault::service
