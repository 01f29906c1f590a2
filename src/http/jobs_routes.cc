#include "http/jobs_routes.h"

#include <boost/json.hpp>

#include "common/env.h"

namespace custvault::http {
namespace json = boost::json;
namespace {

json::value TimeOrNull(int64_t unix_micros) {
  if (unix_micros == 0) return nullptr;
  return json::string(FormatRfc3339(unix_micros));
}

}  // namespace

json::object JobStatusJson(const jobs::JobStatus& status) {
  json::object out;
  out["name"] = status.name;
  out["schedule"] = status.schedule;
  out["last_run_at"] = TimeOrNull(status.last_run_at_us);
  out["last_finished_at"] = TimeOrNull(status.last_finished_at_us);
  if (status.last_result.empty()) {
    out["last_result"] = nullptr;
  } else {
    out["last_result"] = status.last_result;
  }
  out["next_run_at"] = TimeOrNull(status.next_run_at_us.value_or(0));
  out["running"] = status.running;
  return out;
}

void RegisterJobsRoutes(Router& router, service::JobsService& jobs, Authenticator authenticate) {
  router.Add(
      "GET", "/api/v1/jobs",
      WithAuth(std::move(authenticate), [&jobs](Request& request, const service::Actor& actor) {
        // The role first: a caller who may not list jobs learns nothing more.
        Result<std::vector<jobs::JobStatus>> list = jobs.List(actor);
        if (!list.ok()) return ErrorResponse(list.status());
        if (!request.query.empty()) {
          return ErrorResponse(InvalidArgument("GET /api/v1/jobs takes no parameters"));
        }
        json::array items;
        for (const jobs::JobStatus& status : *list) items.push_back(JobStatusJson(status));
        return JsonResponse(200, json::object{{"items", std::move(items)}});
      }));
}

}  // namespace custvault::http
