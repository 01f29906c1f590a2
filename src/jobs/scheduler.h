// jobs/: the persistent scheduler for timed work (re-classification,
// backups, restore tests). Cron-like schedules in local time, the last run
// of each job kept in the store's settings table so that a restart neither
// forgets nor repeats work, and a catch-up run after downtime.
//
// Schedules (the text in [jobs] of custvault.toml):
//   "daily HH:MM"              every day at HH:MM local time
//   "weekly DAY HH:MM"         DAY = mon | tue | wed | thu | fri | sat | sun
//   "quarterly HH:MM"          on Jan 1, Apr 1, Jul 1 and Oct 1 at HH:MM
//   "off"                      never on a timer (RunNow still runs it)
// Local time = UTC + utc_offset_seconds (fixed offset: China has no DST).
//
// Running:
// - One background thread (Start) wakes at least every poll interval (1 s
//   by default, real time) and compares Env::NowMicros with each job's
//   latest due time; a FakeEnv moved forward by a test is therefore seen
//   at the next poll.
// - A job is due when its latest due time (LastDueAt) is later than its
//   last run. After downtime spanning several periods it runs once, not
//   once per missed period.
// - First start of a job (no run and no baseline persisted): the start time
//   is persisted as its baseline and nothing runs, so a fresh install does
//   not start a quarterly job at once; the first run is the first due time
//   after the baseline (also when that passes during downtime).
// - Jobs run one after another, never two at once, and a job never runs
//   twice at once (RunNow too). The run's start is recorded (and persisted)
//   before it runs, as "failed: interrupted" until it finishes; a failed or
//   interrupted run is retried at the next due time, never in a loop.
// - If the clock goes backwards below a job's last run, the job waits until
//   its due time passes the last run again.
//
// Persisted settings, per job: job.<name>.last_run_us,
// job.<name>.last_finished_us, job.<name>.last_result, job.<name>.since_us
// (the baseline). Decimal microseconds since the Unix epoch; a value that
// does not parse is treated as absent. Failure to persist is logged and the
// in-memory record still prevents a rerun in the same process.
//
// Limits: at most kJobsMax jobs; names [a-z0-9_]{1,48}; schedule texts at
// most 64 bytes; a failure message is kept to kResultBytesMax bytes.
//
// Not covered: two processes on one data directory (e.g. `custvault jobs run`
// while `custvault serve` runs the same job on its timer) are not excluded
// from each other; jobs that must never overlap across processes need their
// own lock.
//
// Thread safety: every method may be called from any thread; Add only
// before Start. Jobs' functions run on the scheduler thread (timed) or the
// caller's thread (RunNow) and must not call back into the Scheduler.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/env.h"
#include "common/status.h"
#include "store/store.h"

namespace custvault::jobs {

// "daily HH:MM" | "weekly mon..sun HH:MM" | "quarterly HH:MM" (00:00+HH:MM
// local on Jan 1, Apr 1, Jul 1, Oct 1) | "off"
struct Schedule {
  enum class Kind { kOff, kDaily, kWeekly, kQuarterly };
  Kind kind = Kind::kOff;
  int weekday = 0;        // kWeekly: 0 = Monday .. 6 = Sunday
  int minute_of_day = 0;  // 0 .. 1439
  std::string text;       // as given (trimmed)
};

inline constexpr size_t kScheduleBytesMax = 64;

// kInvalidArgument naming the problem. Words are separated by spaces;
// keywords and days are lower case; HH 00..23, MM 00..59, two digits each.
Result<Schedule> ParseSchedule(std::string_view text);

// Local time = UTC + utc_offset_seconds. Latest due time <= now_us (nullopt
// for "off"/never), next due time > now_us. Both nullopt too for an instant
// outside years 0001..9999 or an offset beyond +-18 hours.
std::optional<int64_t> LastDueAt(const Schedule& schedule, int64_t now_us, int utc_offset_seconds);
std::optional<int64_t> NextDueAt(const Schedule& schedule, int64_t now_us, int utc_offset_seconds);

struct JobStatus {
  std::string name;
  std::string schedule;
  int64_t last_run_at_us = 0;
  int64_t last_finished_at_us = 0;
  std::string last_result;  // "ok" | "failed: <message>" | ""
  std::optional<int64_t> next_run_at_us;
  bool running = false;  // running, or waiting for another job to finish
};

class Scheduler {
 public:
  static constexpr size_t kJobsMax = 64;
  static constexpr size_t kNameBytesMax = 48;
  static constexpr size_t kResultBytesMax = 512;
  static constexpr std::chrono::milliseconds kDefaultPollInterval{1000};

  // Last-run times persist in the store's settings table
  // (Store::PutSetting/GetSetting, names "job.<name>.last_run_us" etc.).
  // `env` and `state` must outlive the scheduler.
  Scheduler(Env* env, store::Store& state, int utc_offset_seconds);
  ~Scheduler();  // stops
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Before Start. kConflict on a duplicate name, kInvalidArgument on a bad
  // name ([a-z0-9_]{1,48}), kUnavailable after Start, kTooLarge beyond
  // kJobsMax. Reads the job's persisted record (an error from the store is
  // returned).
  Status Add(const std::string& name, const Schedule& schedule, std::function<Status()> run);

  // Before Start: how often the thread looks at the clock (tests use a few
  // milliseconds; 1 s by default).
  void SetPollInterval(std::chrono::milliseconds interval);

  // Starts one background thread. Catch-up: a job whose latest due time is
  // later than its persisted last run (downtime, or first start after the
  // due time) runs once soon after Start, not once per missed period.
  // A job never runs twice at once; jobs run one after another. A second
  // Start, or a Start after Stop, does nothing.
  void Start();
  // Waits for a running job (timed or RunNow) to finish; then no job runs
  // again (RunNow answers kUnavailable).
  void Stop();

  // Runs a job now on the caller's thread (CLI/API "run now"), recording it
  // like a timed run; returns the job's own status. kNotFound for an unknown
  // name; kUnavailable if it is already running or the scheduler is
  // stopped. Waits while another job runs.
  Status RunNow(const std::string& name);

  // Every job in the order added.
  std::vector<JobStatus> List() const;

 private:
  struct Job {
    std::string name;
    Schedule schedule;
    std::function<Status()> run;
    int64_t last_run_us = 0;       // 0: never
    int64_t last_finished_us = 0;  // 0: never
    int64_t since_us = 0;          // baseline; 0 until Start or the first run
    std::string last_result;
    bool running = false;
  };

  void Loop();
  // The index of the job most overdue at `now_us`, if any (mutex_ held).
  std::optional<size_t> DueJob(int64_t now_us) const;
  // Runs jobs_[index] (marked running by the caller) once the run lock is
  // free, records start and finish. mutex_ not held.
  Status Execute(size_t index, std::unique_lock<std::mutex>& lock);
  void Persist(const std::string& name, std::string_view key, const std::string& value);

  Env* const env_;
  store::Store& state_;
  const int utc_offset_seconds_;
  std::chrono::milliseconds poll_interval_ = kDefaultPollInterval;

  mutable std::mutex mutex_;
  std::condition_variable wake_;            // the loop: stop, or a job finished
  std::condition_variable finished_;        // a run ended (RunNow waiting its turn, Stop)
  std::vector<std::unique_ptr<Job>> jobs_;  // stable addresses; only Add appends
  bool started_ = false;
  bool stopping_ = false;
  bool executing_ = false;  // some job's function is running
  int runs_in_flight_ = 0;  // marked running, executing or waiting to
  std::thread thread_;
};

}  // namespace custvault::jobs
