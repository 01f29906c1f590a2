#include "jobs/scheduler.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "common/log.h"

namespace custvault::jobs {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerMinute = 60 * kMicrosPerSecond;
constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;
constexpr int kOffsetSecondsMax = 18 * 3600;

constexpr std::array<std::string_view, 7> kWeekdays = {"mon", "tue", "wed", "thu",
                                                       "fri", "sat", "sun"};

// What a run that never finished leaves behind (the process stopped or
// crashed while it ran): a failure, retried at the next due time.
constexpr char kInterrupted[] = "failed: interrupted (the process stopped during the run)";

int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
int64_t FloorMod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }

// Howard Hinnant's civil-calendar algorithms (public domain,
// http://howardhinnant.github.io/date_algorithms.html): proleptic
// Gregorian, day 0 = 1970-01-01.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = FloorDiv(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
void CivilFromDays(int64_t z, int64_t* year, int64_t* month) {
  z += 719468;
  const int64_t era = FloorDiv(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

// The instants the calendar arithmetic accepts: years 0001..9999 UTC.
const int64_t kEarliestUs = DaysFromCivil(1, 1, 1) * kMicrosPerDay;
const int64_t kLatestUs = DaysFromCivil(10000, 1, 1) * kMicrosPerDay - 1;

bool InRange(const Schedule& schedule, int64_t now_us, int utc_offset_seconds) {
  return schedule.kind != Schedule::Kind::kOff && now_us >= kEarliestUs && now_us <= kLatestUs &&
         utc_offset_seconds >= -kOffsetSecondsMax && utc_offset_seconds <= kOffsetSecondsMax &&
         schedule.minute_of_day >= 0 && schedule.minute_of_day < 24 * 60 && schedule.weekday >= 0 &&
         schedule.weekday < 7;
}

// Local midnight (as local microseconds) of the first day of the quarter
// holding local day `day`, moved by `quarters` quarters.
int64_t QuarterStart(int64_t day, int quarters) {
  int64_t year = 0;
  int64_t month = 0;
  CivilFromDays(day, &year, &month);
  int64_t first_month = (month - 1) / 3 * 3 + 1 + 3 * quarters;  // may leave 1..12
  year += FloorDiv(first_month - 1, 12);
  first_month = FloorMod(first_month - 1, 12) + 1;
  return DaysFromCivil(year, first_month, 1) * kMicrosPerDay;
}

// The due time at or before (latest) or after (next) local instant `local`.
int64_t DueAround(const Schedule& schedule, int64_t local, bool latest) {
  const int64_t day = FloorDiv(local, kMicrosPerDay);
  const int64_t at = schedule.minute_of_day * kMicrosPerMinute;
  switch (schedule.kind) {
    case Schedule::Kind::kDaily: {
      int64_t candidate = day * kMicrosPerDay + at;
      if (latest && candidate > local) candidate -= kMicrosPerDay;
      if (!latest && candidate <= local) candidate += kMicrosPerDay;
      return candidate;
    }
    case Schedule::Kind::kWeekly: {
      const int64_t weekday = FloorMod(day + 3, 7);  // 1970-01-01 was a Thursday (3)
      if (latest) {
        int64_t candidate = (day - FloorMod(weekday - schedule.weekday, 7)) * kMicrosPerDay + at;
        if (candidate > local) candidate -= 7 * kMicrosPerDay;
        return candidate;
      }
      int64_t candidate = (day + FloorMod(schedule.weekday - weekday, 7)) * kMicrosPerDay + at;
      if (candidate <= local) candidate += 7 * kMicrosPerDay;
      return candidate;
    }
    case Schedule::Kind::kQuarterly: {
      int64_t candidate = QuarterStart(day, 0) + at;
      if (latest && candidate > local) candidate = QuarterStart(day, -1) + at;
      if (!latest && candidate <= local) candidate = QuarterStart(day, 1) + at;
      return candidate;
    }
    case Schedule::Kind::kOff:
      break;
  }
  return 0;  // never: callers check kOff first
}

std::optional<int64_t> Due(const Schedule& schedule, int64_t now_us, int utc_offset_seconds,
                           bool latest) {
  if (!InRange(schedule, now_us, utc_offset_seconds)) return std::nullopt;
  const int64_t offset_us = int64_t{utc_offset_seconds} * kMicrosPerSecond;
  return DueAround(schedule, now_us + offset_us, latest) - offset_us;
}

// "HH:MM", two digits each.
std::optional<int> ParseClock(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  for (size_t i : {0, 1, 3, 4}) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (hours > 23 || minutes > 59) return std::nullopt;
  return hours * 60 + minutes;
}

bool IsJobName(std::string_view name) {
  if (name.empty() || name.size() > Scheduler::kNameBytesMax) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string SettingName(const std::string& job, std::string_view key) {
  return "job." + job + "." + std::string(key);
}

int64_t ParseMicros(const std::optional<std::string>& text) {
  if (!text) return 0;
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < 0) return 0;
  return value;
}

std::string ResultText(const Status& status) {
  if (status.ok()) return "ok";
  std::string text = "failed: " + status.ToString();
  if (text.size() > Scheduler::kResultBytesMax) text.resize(Scheduler::kResultBytesMax);
  return text;
}

}  // namespace

Result<Schedule> ParseSchedule(std::string_view text) {
  if (text.size() > kScheduleBytesMax) {
    return InvalidArgument("schedule is longer than " + std::to_string(kScheduleBytesMax) +
                           " bytes");
  }
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == '\t') {
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    words.push_back(text.substr(start, i - start));
  }
  const std::string_view usage =
      " (expected \"daily HH:MM\", \"weekly mon..sun HH:MM\", \"quarterly HH:MM\" or \"off\")";
  if (words.empty()) return InvalidArgument("schedule is empty" + std::string(usage));
  Schedule schedule;
  for (size_t w = 0; w < words.size(); ++w) {
    schedule.text += (w == 0 ? "" : " ") + std::string(words[w]);
  }
  const std::string_view kind = words[0];
  size_t clock_word = 1;
  if (kind == "off") {
    if (words.size() != 1) return InvalidArgument("schedule \"off\" takes nothing after it");
    schedule.kind = Schedule::Kind::kOff;
    return schedule;
  }
  if (kind == "daily") {
    schedule.kind = Schedule::Kind::kDaily;
  } else if (kind == "quarterly") {
    schedule.kind = Schedule::Kind::kQuarterly;
  } else if (kind == "weekly") {
    schedule.kind = Schedule::Kind::kWeekly;
    if (words.size() < 2) {
      return InvalidArgument("weekly schedule needs a day: mon, tue, wed, thu, fri, sat or sun");
    }
    const auto day = std::find(kWeekdays.begin(), kWeekdays.end(), words[1]);
    if (day == kWeekdays.end()) {
      return InvalidArgument(
          "weekly schedule: unknown day (use mon, tue, wed, thu, fri, sat "
          "or sun)");
    }
    schedule.weekday = static_cast<int>(day - kWeekdays.begin());
    clock_word = 2;
  } else {
    return InvalidArgument("schedule: unknown kind" + std::string(usage));
  }
  if (words.size() <= clock_word) {
    return InvalidArgument("schedule \"" + std::string(kind) + "\" needs a time HH:MM");
  }
  if (words.size() > clock_word + 1) {
    return InvalidArgument("schedule: unexpected text after the time" + std::string(usage));
  }
  const std::optional<int> minute = ParseClock(words[clock_word]);
  if (!minute) {
    return InvalidArgument("schedule: time must be HH:MM, 00:00 to 23:59");
  }
  schedule.minute_of_day = *minute;
  return schedule;
}

std::optional<int64_t> LastDueAt(const Schedule& schedule, int64_t now_us, int utc_offset_seconds) {
  return Due(schedule, now_us, utc_offset_seconds, /*latest=*/true);
}

std::optional<int64_t> NextDueAt(const Schedule& schedule, int64_t now_us, int utc_offset_seconds) {
  return Due(schedule, now_us, utc_offset_seconds, /*latest=*/false);
}

// ---------------------------------------------------------------- Scheduler

Scheduler::Scheduler(Env* env, store::Store& state, int utc_offset_seconds)
    : env_(env), state_(state), utc_offset_seconds_(utc_offset_seconds) {}

Scheduler::~Scheduler() { Stop(); }

Status Scheduler::Add(const std::string& name, const Schedule& schedule,
                      std::function<Status()> run) {
  if (!IsJobName(name)) return InvalidArgument("job name must match [a-z0-9_]{1,48}");
  if (!run) return InvalidArgument("job " + name + ": no function to run");
  if (schedule.minute_of_day < 0 || schedule.minute_of_day >= 24 * 60 || schedule.weekday < 0 ||
      schedule.weekday > 6) {
    return InvalidArgument("job " + name + ": schedule out of range (use ParseSchedule)");
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (started_ || stopping_) return Unavailable("jobs are added before the scheduler starts");
    for (const auto& job : jobs_) {
      if (job->name == name) return Conflict("job " + name + " is already added");
    }
    if (jobs_.size() >= kJobsMax) {
      return TooLarge("more than " + std::to_string(kJobsMax) + " jobs");
    }
  }
  auto job = std::make_unique<Job>();
  job->name = name;
  job->schedule = schedule;
  job->run = std::move(run);
  // The persisted record, read outside the lock (the store may be slow).
  ASSIGN_OR_RETURN(const std::optional<std::string> last_run,
                   state_.GetSetting(SettingName(name, "last_run_us")));
  ASSIGN_OR_RETURN(const std::optional<std::string> last_finished,
                   state_.GetSetting(SettingName(name, "last_finished_us")));
  ASSIGN_OR_RETURN(const std::optional<std::string> since,
                   state_.GetSetting(SettingName(name, "since_us")));
  ASSIGN_OR_RETURN(const std::optional<std::string> last_result,
                   state_.GetSetting(SettingName(name, "last_result")));
  job->last_run_us = ParseMicros(last_run);
  job->last_finished_us = ParseMicros(last_finished);
  job->since_us = ParseMicros(since);
  job->last_result = last_result.value_or("");
  std::lock_guard<std::mutex> lock(mutex_);
  // Checked again: another thread may have added the same name meanwhile.
  if (started_ || stopping_) return Unavailable("jobs are added before the scheduler starts");
  for (const auto& existing : jobs_) {
    if (existing->name == name) return Conflict("job " + name + " is already added");
  }
  if (jobs_.size() >= kJobsMax) return TooLarge("more than " + std::to_string(kJobsMax) + " jobs");
  jobs_.push_back(std::move(job));
  return Status::Ok();
}

void Scheduler::SetPollInterval(std::chrono::milliseconds interval) {
  std::lock_guard<std::mutex> lock(mutex_);
  poll_interval_ = std::max(interval, std::chrono::milliseconds(1));
}

void Scheduler::Start() {
  std::vector<std::string> baselined;
  int64_t now_us = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (started_ || stopping_) return;
    started_ = true;
    now_us = env_->NowMicros();
    for (auto& job : jobs_) {
      if (job->last_run_us == 0 && job->since_us == 0) {
        job->since_us = now_us;
        baselined.push_back(job->name);
      }
    }
  }
  for (const std::string& name : baselined) {
    Persist(name, "since_us", std::to_string(now_us));
  }
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  finished_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::unique_lock<std::mutex> lock(mutex_);
  finished_.wait(lock, [this] { return runs_in_flight_ == 0; });
}

Status Scheduler::RunNow(const std::string& name) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_) return Unavailable("the scheduler is stopping");
  for (size_t i = 0; i < jobs_.size(); ++i) {
    if (jobs_[i]->name != name) continue;
    if (jobs_[i]->running) return Unavailable("job " + name + " is already running");
    jobs_[i]->running = true;
    ++runs_in_flight_;
    return Execute(i, lock);
  }
  return NotFound("no job named " + (IsJobName(name) ? name : std::string("(invalid name)")));
}

std::vector<JobStatus> Scheduler::List() const {
  const int64_t now_us = env_->NowMicros();
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<JobStatus> out;
  out.reserve(jobs_.size());
  for (const auto& job : jobs_) {
    // Filled in place: a local copied in afterwards trips GCC 12's
    // -Wmaybe-uninitialized on std::string.
    JobStatus& status = out.emplace_back();
    status.name = job->name;
    status.schedule = job->schedule.text;
    status.last_run_at_us = job->last_run_us;
    status.last_finished_at_us = job->last_finished_us;
    status.last_result = job->last_result;
    status.running = job->running;
    const int64_t baseline = std::max(job->last_run_us, job->since_us);
    const std::optional<int64_t> due = LastDueAt(job->schedule, now_us, utc_offset_seconds_);
    if (baseline != 0 && due && *due > baseline) {
      status.next_run_at_us = *due;  // overdue: runs at the scheduler's next look
    } else {
      status.next_run_at_us = NextDueAt(job->schedule, now_us, utc_offset_seconds_);
    }
  }
  return out;
}

std::optional<size_t> Scheduler::DueJob(int64_t now_us) const {
  std::optional<size_t> chosen;
  int64_t chosen_due = 0;
  for (size_t i = 0; i < jobs_.size(); ++i) {
    const Job& job = *jobs_[i];
    if (job.running) continue;
    const std::optional<int64_t> due = LastDueAt(job.schedule, now_us, utc_offset_seconds_);
    if (!due || *due <= std::max(job.last_run_us, job.since_us)) continue;
    if (!chosen || *due < chosen_due) {
      chosen = i;
      chosen_due = *due;
    }
  }
  return chosen;
}

void Scheduler::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!executing_) {
      if (const std::optional<size_t> index = DueJob(env_->NowMicros())) {
        jobs_[*index]->running = true;
        ++runs_in_flight_;
        Execute(*index, lock).IgnoreError();  // recorded in the job's status and logged
        continue;
      }
    }
    wake_.wait_for(lock, poll_interval_);
  }
}

Status Scheduler::Execute(size_t index, std::unique_lock<std::mutex>& lock) {
  Job& job = *jobs_[index];
  // Jobs run one after another.
  finished_.wait(lock, [this] { return !executing_ || stopping_; });
  if (stopping_) {
    job.running = false;
    --runs_in_flight_;
    finished_.notify_all();
    return Unavailable("the scheduler is stopping");
  }
  executing_ = true;
  const int64_t started_us = env_->NowMicros();
  job.last_run_us = started_us;
  job.last_result = kInterrupted;
  const std::string name = job.name;
  lock.unlock();

  Persist(name, "last_run_us", std::to_string(started_us));
  Persist(name, "last_result", kInterrupted);
  spdlog::info("job {} started", name);
  Status status;
  try {
    status = job.run();  // `run` is never changed after Add: no lock needed
  } catch (const std::exception& e) {
    // Jobs report failure by Status; an exception must still not take the
    // scheduler thread (and the process) down.
    status = Internal(std::string("job threw an exception: ") + e.what());
  } catch (...) {
    status = Internal("job threw an exception");
  }
  const int64_t finished_us = env_->NowMicros();
  const std::string result = ResultText(status);
  if (status.ok()) {
    spdlog::info("job {} finished: ok", name);
  } else {
    spdlog::error("job {} {}", name, result);
  }

  lock.lock();
  job.last_finished_us = finished_us;
  job.last_result = result;
  executing_ = false;
  lock.unlock();
  finished_.notify_all();  // the next job may start while this one's record is written

  Persist(name, "last_finished_us", std::to_string(finished_us));
  Persist(name, "last_result", result);

  lock.lock();
  job.running = false;
  --runs_in_flight_;
  finished_.notify_all();
  wake_.notify_all();
  return status;
}

void Scheduler::Persist(const std::string& name, std::string_view key, const std::string& value) {
  const Status stored = state_.PutSetting(SettingName(name, key), value);
  if (!stored.ok()) {
    // The in-memory record still prevents a rerun in this process; after a
    // restart the job may run once more than needed, never less.
    spdlog::warn("job {}: cannot persist {}: {}", name, key, stored.ToString());
  }
}

}  // namespace custvault::jobs
