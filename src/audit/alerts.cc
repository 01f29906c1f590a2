#include "audit/alerts.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "audit/entry.h"

namespace custvault::audit {
namespace {

constexpr int64_t kMinuteUs = 60'000'000;
constexpr int64_t kDayUs = 24 * 60 * kMinuteUs;
constexpr int64_t kOffHoursQuietUs = 60 * kMinuteUs;
// An entry cannot claim more than this many customers in one go: a forged
// or buggy count must not overflow the window sums.
constexpr int64_t kCountMax = 1'000'000'000;

bool ParseInt(std::string_view text, int min, int max, int* out) {
  if (text.empty() || text.size() > 2) return false;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value < min || value > max) return false;
  *out = value;
  return true;
}

bool ParseClock(std::string_view text, int* minutes) {
  const size_t colon = text.find(':');
  int hour = 0;
  int minute = 0;
  if (colon == std::string_view::npos || !ParseInt(text.substr(0, colon), 0, 24, &hour) ||
      !ParseInt(text.substr(colon + 1), 0, 59, &minute) || (hour == 24 && minute != 0)) {
    return false;
  }
  *minutes = hour * 60 + minute;
  return true;
}

// The number of customers an entry touched: details.count when present.
int64_t CustomersTouched(const store::AuditEntryView& entry) {
  if (entry.details.find("\"count\"") == std::string_view::npos) return 1;
  boost::system::error_code error;
  const boost::json::value details = boost::json::parse(entry.details, error);
  if (error || !details.is_object()) return 1;
  const boost::json::value* count = details.as_object().if_contains("count");
  if (count == nullptr || !count->is_int64()) return 1;
  const int64_t value = count->as_int64();
  return value < 0 ? 0 : (value > kCountMax ? kCountMax : value);
}

bool IsCustomerOperation(std::string_view operation) {
  return operation.substr(0, 9) == "customer.";
}

template <typename Map>
void BoundActors(Map& map) {
  if (map.size() <= kAlertActorsMax) return;
  // Forget the stalest half; rare, and linear only when it happens.
  std::vector<std::pair<int64_t, std::string>> by_age;
  by_age.reserve(map.size());
  for (const auto& [actor, window] : map) by_age.emplace_back(window.last_seen_us, actor);
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<long>(by_age.size() / 2),
                   by_age.end());
  for (size_t i = 0; i < by_age.size() / 2; ++i) map.erase(by_age[i].second);
}

}  // namespace

Result<WorkingTime> ParseWorkingTime(std::string_view hours, std::string_view days) {
  WorkingTime working;
  const size_t dash = hours.find('-');
  if (dash == std::string_view::npos || !ParseClock(hours.substr(0, dash), &working.start_minute) ||
      !ParseClock(hours.substr(dash + 1), &working.end_minute) ||
      working.start_minute >= working.end_minute) {
    return InvalidArgument("audit.working_hours must look like 08:00-20:00 (start before end)");
  }
  std::string_view rest = days;
  bool any = false;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t range = item.find('-');
    int first = 0;
    int last = 0;
    if (!ParseInt(item.substr(0, range), 1, 7, &first)) {
      return InvalidArgument("audit.working_days must look like 1-5 or 1,2,3 (Monday = 1)");
    }
    last = first;
    if (range != std::string_view::npos &&
        (!ParseInt(item.substr(range + 1), 1, 7, &last) || last < first)) {
      return InvalidArgument("audit.working_days must look like 1-5 or 1,2,3 (Monday = 1)");
    }
    for (int day = first; day <= last; ++day) working.weekdays[day] = true;
    any = true;
    if (comma != std::string_view::npos && rest.empty()) {
      return InvalidArgument("audit.working_days ends with a comma");
    }
  }
  if (!any) return InvalidArgument("audit.working_days names no day");
  return working;
}

Result<AlertEngine> AlertEngine::Create(const AuditConfig& config, int utc_offset_seconds) {
  ASSIGN_OR_RETURN(WorkingTime working,
                   ParseWorkingTime(config.working_hours, config.working_days));
  return AlertEngine(config, utc_offset_seconds, working);
}

AlertEngine::AlertEngine(const AuditConfig& config, int utc_offset_seconds,
                         WorkingTime working_time)
    : config_(config), utc_offset_seconds_(utc_offset_seconds), working_time_(working_time) {}

void AlertEngine::RememberLoginIp(std::string_view actor_id, std::string_view ip) {
  if (seen_ips_.size() >= kAlertActorsMax && !seen_ips_.contains(std::string(actor_id))) return;
  std::set<std::string>& ips = seen_ips_[std::string(actor_id)];
  if (ips.size() >= kSeenIpsPerAccountMax) ips.erase(ips.begin());
  ips.emplace(ip);
}

bool AlertEngine::OutsideWorkingTime(int64_t time_us) const {
  const int64_t local_us = time_us + int64_t{utc_offset_seconds_} * 1'000'000;
  // Floor division: times before 1970 still land on the right day.
  int64_t day = local_us / kDayUs;
  if (local_us % kDayUs < 0) --day;
  const int64_t minute_of_day = (local_us - day * kDayUs) / kMinuteUs;
  // 1970-01-01 was a Thursday (ISO 4).
  int64_t weekday = (day + 3) % 7;
  if (weekday < 0) weekday += 7;
  const int iso_weekday = static_cast<int>(weekday) + 1;
  if (!working_time_.weekdays[iso_weekday]) return true;
  return minute_of_day < working_time_.start_minute || minute_of_day >= working_time_.end_minute;
}

int64_t AlertEngine::Slide(Window& window, int64_t time_us, int64_t count, int64_t window_us) {
  window.last_seen_us = time_us;
  if (count > 0) {
    window.events.emplace_back(time_us, count);
    window.total += count;
  }
  while (!window.events.empty() && window.events.front().first <= time_us - window_us) {
    window.total -= window.events.front().second;
    window.events.pop_front();
  }
  return window.total;
}

bool AlertEngine::SearchMissesRaise(std::string_view actor, int64_t time_us, bool miss) {
  const int64_t window_us = int64_t{config_.search_misses_window_minutes} * kMinuteUs;
  Window& all = searches_[std::string(actor)];
  Window& misses = search_misses_[std::string(actor)];
  const int64_t searched = Slide(all, time_us, 1, window_us);
  const int64_t missed = Slide(misses, time_us, miss ? 1 : 0, window_us);
  bool raise = false;
  if (missed >= config_.search_misses_alert_min &&
      missed * 100 >= int64_t{config_.search_miss_ratio_percent} * searched &&
      time_us >= misses.quiet_until_us) {
    raise = true;
    misses.quiet_until_us = time_us + window_us;
    all.events.clear();
    all.total = 0;
    misses.events.clear();
    misses.total = 0;
  }
  BoundActors(searches_);
  BoundActors(search_misses_);
  return raise;
}

bool AlertEngine::AddAndCheck(Windows& windows, std::string_view actor, int64_t time_us,
                              int64_t count, int64_t window_us, int64_t threshold) {
  Window& window = windows[std::string(actor)];
  window.last_seen_us = time_us;
  window.events.emplace_back(time_us, count);
  window.total += count;
  while (!window.events.empty() && window.events.front().first <= time_us - window_us) {
    window.total -= window.events.front().second;
    window.events.pop_front();
  }
  bool raise = false;
  if (window.total > threshold && time_us >= window.quiet_until_us) {
    raise = true;
    window.quiet_until_us = time_us + window_us;
    window.events.clear();
    window.total = 0;
  }
  BoundActors(windows);
  return raise;
}

std::vector<RaisedAlert> AlertEngine::Observe(const store::AuditEntryView& entry) {
  std::vector<RaisedAlert> raised;
  const std::string_view operation = entry.operation;
  const std::string actor(entry.actor_id);

  if (IsCustomerOperation(operation) && OutsideWorkingTime(entry.time_us)) {
    int64_t& quiet_until = off_hours_quiet_until_[actor];
    if (entry.time_us >= quiet_until) {
      quiet_until = entry.time_us + kOffHoursQuietUs;
      raised.push_back({std::string(rule::kOffHours), actor, entry.time_us,
                        std::string(operation) + " outside working hours (seq " +
                            std::to_string(entry.seq) + ")"});
    }
    if (off_hours_quiet_until_.size() > kAlertActorsMax) off_hours_quiet_until_.clear();
  }

  if (operation == op::kCustomerView || operation == op::kCustomerList ||
      operation == op::kCustomerSearch || operation == op::kCustomerExport) {
    const int64_t window_us = int64_t{config_.bulk_views_window_minutes} * kMinuteUs;
    if (AddAndCheck(bulk_views_, actor, entry.time_us, CustomersTouched(entry), window_us,
                    config_.bulk_views_max)) {
      raised.push_back({std::string(rule::kBulkViews), actor, entry.time_us,
                        "more than " + std::to_string(config_.bulk_views_max) +
                            " customers viewed or exported within " +
                            std::to_string(config_.bulk_views_window_minutes) + " minutes"});
    }
  }

  if (operation == op::kCustomerReveal && entry.result == result::kOk) {
    const int64_t window_us = int64_t{config_.reveals_window_minutes} * kMinuteUs;
    if (AddAndCheck(reveals_, actor, entry.time_us, 1, window_us, config_.reveals_max)) {
      raised.push_back({std::string(rule::kRevealBurst), actor, entry.time_us,
                        "more than " + std::to_string(config_.reveals_max) + " reveals within " +
                            std::to_string(config_.reveals_window_minutes) + " minutes"});
    }
  }

  if ((operation == op::kBackupRun || operation == op::kBackupVerify) &&
      entry.result == result::kFailed &&
      entry.details.find("\"error\":\"data_integrity\"") != std::string_view::npos) {
    raised.push_back({std::string(rule::kBackupDamaged), actor, entry.time_us,
                      std::string(operation) + " found a damaged backup (seq " +
                          std::to_string(entry.seq) + "); take a full backup"});
  }

  if (operation == op::kCustomerSearch) {
    // Every attempt counts towards a burst, refused ones too: an attacker
    // who keeps going past the budget is still bursting.
    const int64_t window_us = int64_t{config_.search_burst_window_minutes} * kMinuteUs;
    if (AddAndCheck(search_bursts_, actor, entry.time_us, 1, window_us,
                    config_.search_burst_max)) {
      raised.push_back({std::string(rule::kSearchBurst), actor, entry.time_us,
                        "more than " + std::to_string(config_.search_burst_max) +
                            " searches within " +
                            std::to_string(config_.search_burst_window_minutes) + " minutes"});
    }
    if (entry.result == result::kOk &&
        SearchMissesRaise(actor, entry.time_us, CustomersTouched(entry) == 0)) {
      raised.push_back({std::string(rule::kSearchMisses), actor, entry.time_us,
                        "at least " + std::to_string(config_.search_misses_alert_min) +
                            " searches found nobody within " +
                            std::to_string(config_.search_misses_window_minutes) +
                            " minutes (" + std::to_string(config_.search_miss_ratio_percent) +
                            "% or more of the account's searches): guessing masked values?"});
    }
  }

  if (operation == op::kSearchLock) {
    raised.push_back({std::string(rule::kSearchLocked), actor, entry.time_us,
                      "search locked after repeated searches past the budget (seq " +
                          std::to_string(entry.seq) + "); a security officer can clear it"});
  }

  if (operation == op::kAuthLoginFailed) {
    const int64_t window_us = int64_t{config_.login_failures_window_minutes} * kMinuteUs;
    if (AddAndCheck(login_failures_, actor, entry.time_us, 1, window_us,
                    config_.login_failures_max - 1)) {
      raised.push_back({std::string(rule::kLoginFailures), actor, entry.time_us,
                        std::to_string(config_.login_failures_max) + " failed logins within " +
                            std::to_string(config_.login_failures_window_minutes) +
                            " minutes, the last from " + std::string(entry.source_ip)});
    }
  }

  if (operation == op::kAuthLogin && entry.result == result::kOk && !entry.source_ip.empty()) {
    auto it = seen_ips_.find(actor);
    const bool known_account = it != seen_ips_.end() && !it->second.empty();
    const bool new_ip = !known_account || !it->second.contains(std::string(entry.source_ip));
    if (config_.new_ip_alert && known_account && new_ip) {
      raised.push_back(
          {std::string(rule::kNewIp), actor, entry.time_us,
           "login from " + std::string(entry.source_ip) + ", an address new for this account"});
    }
    RememberLoginIp(actor, entry.source_ip);
  }
  return raised;
}

}  // namespace custvault::audit
