// Alert rules (R-AUD-4): a pure engine fed every committed audit entry in
// seq order. It keeps sliding windows in memory and says which alerts an
// entry raises; the audit writer stores them and hands them to the webhook.
//
// Time is the entries' own time (which the writer takes from the injected
// Env), so tests drive every rule with a frozen clock. Rules:
//   off_hours     a customer.* operation outside working hours or days
//                 (local time at utc_offset_seconds); once per actor per hour
//   bulk_views    more than bulk_views_max customers viewed, listed,
//                 searched or exported by one actor within the window
//                 (an entry counts details.count customers, else 1)
//   new_ip        a successful login from an IP the account never logged in
//                 from before (accounts' first login raises nothing)
//   login_failures  at least login_failures_max failed logins for one account
//                 within the window
//   reveal_burst  more than reveals_max reveals by one actor within the window
//   backup_damaged  a backup.run or backup.verify failed with data_integrity: a
//                 backup is damaged (an incremental refused to extend its
//                 chain, or a verification found it); every time
//   search_burst  more than search_burst_max searches by one actor within
//                 search_burst_window_minutes (issue 10.1: searching undoes
//                 masks one guess at a time)
//   search_misses at least search_misses_alert_min searches that found
//                 nobody within search_misses_window_minutes, making up at
//                 least search_miss_ratio_percent of the actor's searches
//   search_locked an account's search was locked for a spent budget
//                 (search.lock), raised at once
// After an alert a rule is quiet for that actor for one window, so one
// burst raises one alert. Memory is bounded: kAlertActorsMax actors per
// rule (the stalest are forgotten) and kSeenIpsPerAccountMax IPs per account.
//
// Thread safety: none; the writer thread owns the engine.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "store/audit_store.h"

namespace custvault::audit {

inline constexpr size_t kAlertActorsMax = 100'000;
inline constexpr size_t kSeenIpsPerAccountMax = 256;

namespace rule {
inline constexpr std::string_view kOffHours = "off_hours";
inline constexpr std::string_view kBulkViews = "bulk_views";
inline constexpr std::string_view kNewIp = "new_ip";
inline constexpr std::string_view kLoginFailures = "login_failures";
inline constexpr std::string_view kRevealBurst = "reveal_burst";
inline constexpr std::string_view kBackupDamaged = "backup_damaged";
inline constexpr std::string_view kSearchBurst = "search_burst";
inline constexpr std::string_view kSearchMisses = "search_misses";
inline constexpr std::string_view kSearchLocked = "search_locked";
}  // namespace rule

// Minutes since local midnight [start, end) and ISO weekdays (1 = Monday).
struct WorkingTime {
  int start_minute = 0;
  int end_minute = 0;
  bool weekdays[8] = {};  // index 1..7
};

// Parses "08:00-20:00" and "1-5" / "1,2,3,6-7". kInvalidArgument naming
// the config key.
Result<WorkingTime> ParseWorkingTime(std::string_view hours, std::string_view days);

struct RaisedAlert {
  std::string rule;
  std::string actor_id;
  int64_t time_us = 0;
  std::string summary;  // ids, counts, operations and IPs only
};

class AlertEngine {
 public:
  static Result<AlertEngine> Create(const AuditConfig& config, int utc_offset_seconds);

  // Remembers that `actor_id` has logged in from `ip` (seeded from the
  // store at start).
  void RememberLoginIp(std::string_view actor_id, std::string_view ip);

  // The alerts this committed entry raises (usually none).
  std::vector<RaisedAlert> Observe(const store::AuditEntryView& entry);

 private:
  struct Window {
    std::deque<std::pair<int64_t, int64_t>> events;  // (time_us, count)
    int64_t total = 0;
    int64_t quiet_until_us = 0;
    int64_t last_seen_us = 0;
  };
  using Windows = std::unordered_map<std::string, Window>;

  AlertEngine(const AuditConfig& config, int utc_offset_seconds, WorkingTime working_time);
  // Adds `count` at `time_us` to the actor's window and returns whether the
  // total within window_us now exceeds `threshold` (and the rule is not
  // quiet); on true the window is cleared and the rule goes quiet.
  bool AddAndCheck(Windows& windows, std::string_view actor, int64_t time_us, int64_t count,
                   int64_t window_us, int64_t threshold);
  bool OutsideWorkingTime(int64_t time_us) const;
  // Adds `count` at `time_us` and drops what left the window; the total.
  static int64_t Slide(Window& window, int64_t time_us, int64_t count, int64_t window_us);
  // The search_misses rule for one customer.search entry.
  bool SearchMissesRaise(std::string_view actor, int64_t time_us, bool miss);

  AuditConfig config_;
  int utc_offset_seconds_;
  WorkingTime working_time_;
  Windows bulk_views_;
  Windows login_failures_;
  Windows reveals_;
  Windows search_bursts_;
  Windows searches_;       // every successful search (search_misses)
  Windows search_misses_;  // those that found nobody
  std::unordered_map<std::string, int64_t> off_hours_quiet_until_;
  std::unordered_map<std::string, std::set<std::string>> seen_ips_;
};

}  // namespace custvault::audit
