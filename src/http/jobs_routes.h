// The scheduler's jobs over HTTP (jobs/scheduler.h, service/jobs_service.h):
//   GET /api/v1/jobs    every job with its schedule, last run, last result,
//                       next run and whether it runs now (jobs.read)
// Running a job is CLI-only for now (`custvault jobs run NAME`).
#pragma once

#include <boost/json/object.hpp>

#include "http/auth.h"
#include "http/router.h"
#include "jobs/scheduler.h"
#include "service/jobs_service.h"

namespace custvault::http {

// `jobs` must outlive the router.
void RegisterJobsRoutes(Router& router, service::JobsService& jobs, Authenticator authenticate);

// One job as the API (and the CLI) print it: times as RFC 3339 or null.
boost::json::object JobStatusJson(const jobs::JobStatus& status);

}  // namespace custvault::http
