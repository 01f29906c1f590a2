// The persistent scheduler (R-TAG-3 quarterly re-classification with
// catch-up, R-BAK timed backups): first start, catch-up after downtime,
// persistence across a restart, failures, RunNow, one job at a time, Stop.
// Time is a FakeEnv moved by the test; the scheduler polls every few real
// milliseconds, so every test runs in well under a second.
#include "jobs/scheduler.h"

#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "common/fake_env.h"

namespace custvault::jobs {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int kChina = 8 * 3600;
constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kDay = 86'400 * kSecond;

int64_t Utc(int year, int month, int day, int hour, int minute) {
  tm t{};
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  t.tm_mday = day;
  t.tm_hour = hour;
  t.tm_min = minute;
  return static_cast<int64_t>(timegm(&t)) * kSecond;
}

Schedule Parse(std::string_view text) {
  Result<Schedule> schedule = ParseSchedule(text);
  EXPECT_TRUE(schedule.ok()) << schedule.status().ToString();
  return *schedule;
}

// Polls `done` (the scheduler's thread works on its own real-time poll) for
// up to 60 s of real time: a guard against a hang that no busy machine
// reaches, not a timing expectation (Issue 11.12: 5 s under ASan was close).
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return done();
}

// Gives a started scheduler time for many polls (to show something does
// NOT happen).
void LetItPoll() { std::this_thread::sleep_for(milliseconds(60)); }

// A one-shot gate a job waits on, so a test controls how long it runs.
class Gate {
 public:
  void Open() { promise_.set_value(); }
  void Wait() { future_.wait(); }

 private:
  std::promise<void> promise_;
  std::shared_future<void> future_ = promise_.get_future().share();
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_jobs_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    OpenStore();
  }
  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  void OpenStore() {
    store_.reset();
    store::SqliteOptions options;
    options.path = dir_ + "/custvault.db";
    options.readers = 2;
    Result<std::unique_ptr<store::Store>> store = store::OpenSqliteStore(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  std::unique_ptr<Scheduler> NewScheduler() {
    auto scheduler = std::make_unique<Scheduler>(&env_, *store_, kChina);
    scheduler->SetPollInterval(milliseconds(2));
    return scheduler;
  }

  // A job that counts its runs.
  std::function<Status()> Counter(std::atomic<int>& runs) {
    return [&runs] {
      ++runs;
      return Status::Ok();
    };
  }

  std::optional<std::string> Setting(const std::string& name) {
    Result<std::optional<std::string>> value = store_->GetSetting(name);
    EXPECT_TRUE(value.ok());
    return value.ok() ? *value : std::nullopt;
  }

  JobStatus StatusOf(const Scheduler& scheduler, const std::string& name) {
    for (const JobStatus& status : scheduler.List()) {
      if (status.name == name) return status;
    }
    ADD_FAILURE() << "no job " << name;
    return {};
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  // Sunday 2026-11-29 10:00 UTC = 18:00 local (UTC+8).
  FakeEnv env_{Utc(2026, 11, 29, 10, 0)};
};

TEST_F(SchedulerTest, FirstStartRecordsABaselineAndRunsNothing) {
  std::atomic<int> runs{0};
  auto scheduler = NewScheduler();
  // Its latest due time (Oct 1) is long past, but this is a fresh install.
  ASSERT_TRUE(scheduler->Add("reclassify", Parse("quarterly 02:00"), Counter(runs)).ok());
  scheduler->Start();
  LetItPoll();
  EXPECT_EQ(runs, 0);
  EXPECT_EQ(Setting("job.reclassify.since_us"), std::to_string(env_.NowMicros()));
  const JobStatus status = StatusOf(*scheduler, "reclassify");
  EXPECT_EQ(status.last_run_at_us, 0);
  EXPECT_EQ(status.last_result, "");
  EXPECT_EQ(status.next_run_at_us, Utc(2026, 12, 31, 18, 0));  // Jan 1 02:00 local
}

TEST_F(SchedulerTest, RunsWhenTheClockPassesTheDueTime) {
  std::atomic<int> runs{0};
  auto scheduler = NewScheduler();
  // Daily 23:00 local = 15:00 UTC; now is 10:00 UTC.
  ASSERT_TRUE(scheduler->Add("backup_incremental", Parse("daily 23:00"), Counter(runs)).ok());
  scheduler->Start();
  LetItPoll();
  EXPECT_EQ(runs, 0);
  env_.SetNowMicros(Utc(2026, 11, 29, 15, 0));
  ASSERT_TRUE(Eventually([&] { return runs == 1; }));
  const JobStatus status = StatusOf(*scheduler, "backup_incremental");
  EXPECT_EQ(status.last_run_at_us, Utc(2026, 11, 29, 15, 0));
  ASSERT_TRUE(
      Eventually([&] { return StatusOf(*scheduler, "backup_incremental").last_result == "ok"; }));
  EXPECT_EQ(StatusOf(*scheduler, "backup_incremental").next_run_at_us, Utc(2026, 11, 30, 15, 0));
  LetItPoll();
  EXPECT_EQ(runs, 1);  // once per due time
  env_.AdvanceMicros(kDay);
  ASSERT_TRUE(Eventually([&] { return runs == 2; }));
}

TEST_F(SchedulerTest, CatchUpRunsOnceAfterDowntimeSpanningSeveralPeriods) {
  std::atomic<int> runs{0};
  {
    auto scheduler = NewScheduler();
    ASSERT_TRUE(scheduler->Add("backup_incremental", Parse("daily 23:00"), Counter(runs)).ok());
    ASSERT_TRUE(scheduler->RunNow("backup_incremental").ok());
  }  // the process stops
  EXPECT_EQ(runs, 1);
  env_.AdvanceMicros(10 * kDay);  // ten due times missed
  OpenStore();                    // a new process: the record comes from the database
  auto scheduler = NewScheduler();
  ASSERT_TRUE(scheduler->Add("backup_incremental", Parse("daily 23:00"), Counter(runs)).ok());
  scheduler->Start();
  ASSERT_TRUE(Eventually([&] { return runs == 2; }));
  LetItPoll();
  EXPECT_EQ(runs, 2);  // once, not ten times
}

TEST_F(SchedulerTest, QuarterlyCatchUpAfterSeveralQuarters) {
  std::atomic<int> runs{0};
  env_.SetNowMicros(Utc(2026, 2, 10, 0, 0));
  {
    auto scheduler = NewScheduler();
    ASSERT_TRUE(scheduler->Add("reclassify", Parse("quarterly 02:00"), Counter(runs)).ok());
    scheduler->Start();  // baseline Feb 10
  }
  env_.SetNowMicros(Utc(2026, 11, 29, 10, 0));  // Apr, Jul and Oct 1 passed while down
  OpenStore();
  auto scheduler = NewScheduler();
  ASSERT_TRUE(scheduler->Add("reclassify", Parse("quarterly 02:00"), Counter(runs)).ok());
  scheduler->Start();
  ASSERT_TRUE(Eventually([&] { return runs == 1; }));
  LetItPoll();
  EXPECT_EQ(runs, 1);
}

TEST_F(SchedulerTest, BaselinePersistsSoADueTimeDuringTheFirstDowntimeIsCaughtUp) {
  std::atomic<int> runs{0};
  {
    auto scheduler = NewScheduler();
    ASSERT_TRUE(scheduler->Add("backup_full", Parse("weekly sun 03:00"), Counter(runs)).ok());
    scheduler->Start();
    LetItPoll();
  }
  EXPECT_EQ(runs, 0);
  env_.AdvanceMicros(7 * kDay);  // next Sunday 03:00 local passed while down
  auto scheduler = NewScheduler();
  ASSERT_TRUE(scheduler->Add("backup_full", Parse("weekly sun 03:00"), Counter(runs)).ok());
  scheduler->Start();
  ASSERT_TRUE(Eventually([&] { return runs == 1; }));
}

TEST_F(SchedulerTest, RecordPersistsAcrossARestart) {
  std::atomic<int> runs{0};
  int64_t ran_at = 0;
  {
    auto scheduler = NewScheduler();
    ASSERT_TRUE(scheduler->Add("restore_test", Parse("quarterly 04:00"), Counter(runs)).ok());
    ran_at = env_.NowMicros();
    ASSERT_TRUE(scheduler->RunNow("restore_test").ok());
  }
  OpenStore();
  EXPECT_EQ(Setting("job.restore_test.last_run_us"), std::to_string(ran_at));
  EXPECT_EQ(Setting("job.restore_test.last_result"), "ok");
  env_.AdvanceMicros(3600 * kSecond);
  auto scheduler = NewScheduler();
  ASSERT_TRUE(scheduler->Add("restore_test", Parse("quarterly 04:00"), Counter(runs)).ok());
  const JobStatus status = StatusOf(*scheduler, "restore_test");
  EXPECT_EQ(status.last_run_at_us, ran_at);
  EXPECT_EQ(status.last_finished_at_us, ran_at);
  EXPECT_EQ(status.last_result, "ok");
  EXPECT_EQ(status.schedule, "quarterly 04:00");
  scheduler->Start();
  LetItPoll();
  EXPECT_EQ(runs, 1);  // not due again until Jan 1
}

TEST_F(SchedulerTest, FailureIsRecordedAndRetriedAtTheNextDueTimeNotInALoop) {
  std::atomic<int> runs{0};
  auto scheduler = NewScheduler();
  ASSERT_TRUE(scheduler
                  ->Add("backup_incremental", Parse("daily 23:00"),
                        [&runs] {
                          ++runs;
                          return Internal("offsite directory is not mounted");
                        })
                  .ok());
  scheduler->Start();
  env_.SetNowMicros(Utc(2026, 11, 29, 15, 0));
  // Finished and recorded (running ends only once the record is persisted).
  ASSERT_TRUE(Eventually([&] {
    const JobStatus status = StatusOf(*scheduler, "backup_incremental");
    return runs == 1 && status.last_finished_at_us != 0 && !status.running;
  }));
  EXPECT_EQ(StatusOf(*scheduler, "backup_incremental").last_result,
            "failed: internal: offsite directory is not mounted");
  EXPECT_EQ(Setting("job.backup_incremental.last_result"),
            "failed: internal: offsite directory is not mounted");
  LetItPoll();
  EXPECT_EQ(runs, 1);
  env_.AdvanceMicros(kDay);
  ASSERT_TRUE(Eventually([&] { return runs == 2; }));
}

TEST_F(SchedulerTest, AnExceptionIsRecordedAsAFailure) {
  auto scheduler = NewScheduler();
  ASSERT_TRUE(
      scheduler->Add("thrower", Parse("off"), []() -> Status { throw std::runtime_error("boom"); })
          .ok());
  const Status status = scheduler->RunNow("thrower");
  EXPECT_EQ(status.code(), ErrorCode::kInternal);
  EXPECT_EQ(StatusOf(*scheduler, "thrower").last_result,
            "failed: internal: job threw an exception: boom");
}

TEST_F(SchedulerTest, RunNowRecordsLikeATimedRunAndReturnsTheJobsStatus) {
  auto scheduler = NewScheduler();
  ASSERT_TRUE(scheduler
                  ->Add("job_a", Parse("off"),
                        [this] {
                          env_.AdvanceMicros(2 * kSecond);  // the job takes 2 s
                          return Conflict("nothing to do");
                        })
                  .ok());
  const int64_t started = env_.NowMicros();
  EXPECT_EQ(scheduler->RunNow("job_a").code(), ErrorCode::kConflict);
  const JobStatus status = StatusOf(*scheduler, "job_a");
  EXPECT_EQ(status.last_run_at_us, started);
  EXPECT_EQ(status.last_finished_at_us, started + 2 * kSecond);
  EXPECT_EQ(status.last_result, "failed: conflict: nothing to do");
  EXPECT_EQ(status.next_run_at_us, std::nullopt);  // off
  EXPECT_FALSE(status.running);
  EXPECT_EQ(Setting("job.job_a.last_finished_us"), std::to_string(started + 2 * kSecond));
}

TEST_F(SchedulerTest, RunNowOfAnUnknownJobIsNotFound) {
  auto scheduler = NewScheduler();
  EXPECT_EQ(scheduler->RunNow("nope").code(), ErrorCode::kNotFound);
}

TEST_F(SchedulerTest, RunNowWhileRunningIsRefusedAndTheRunIsMarkedInterruptedUntilItEnds) {
  Gate gate;
  std::atomic<bool> entered{false};
  auto scheduler = NewScheduler();
  ASSERT_TRUE(scheduler
                  ->Add("slow", Parse("off"),
                        [&] {
                          entered = true;
                          gate.Wait();
                          return Status::Ok();
                        })
                  .ok());
  std::thread first([&] { EXPECT_TRUE(scheduler->RunNow("slow").ok()); });
  ASSERT_TRUE(Eventually([&] { return entered.load(); }));
  EXPECT_TRUE(StatusOf(*scheduler, "slow").running);
  const Status second = scheduler->RunNow("slow");
  EXPECT_EQ(second.code(), ErrorCode::kUnavailable);
  EXPECT_NE(second.message().find("already running"), std::string::npos);
  // A crash now would leave this record: a failure, retried at the next due time.
  EXPECT_EQ(Setting("job.slow.last_result"),
            "failed: interrupted (the process stopped during the run)");
  gate.Open();
  first.join();
  EXPECT_EQ(StatusOf(*scheduler, "slow").last_result, "ok");
  EXPECT_FALSE(StatusOf(*scheduler, "slow").running);
}

TEST_F(SchedulerTest, JobsRunOneAfterAnother) {
  std::atomic<int> inside{0};
  std::atomic<int> most_inside{0};
  std::atomic<int> runs{0};
  auto body = [&] {
    const int now_inside = ++inside;
    int seen = most_inside.load();
    while (now_inside > seen && !most_inside.compare_exchange_weak(seen, now_inside)) {
    }
    std::this_thread::sleep_for(milliseconds(20));
    --inside;
    ++runs;
    return Status::Ok();
  };
  auto scheduler = NewScheduler();
  for (const char* name : {"one", "two", "three"}) {
    ASSERT_TRUE(scheduler->Add(name, Parse("daily 23:00"), body).ok());
  }
  ASSERT_TRUE(scheduler->Add("manual", Parse("off"), body).ok());
  scheduler->Start();
  env_.SetNowMicros(Utc(2026, 11, 29, 15, 0));  // all three due at once
  // And a manual run while the timed ones go.
  std::thread manual([&] { EXPECT_TRUE(scheduler->RunNow("manual").ok()); });
  manual.join();
  ASSERT_TRUE(Eventually([&] { return runs == 4; }));
  EXPECT_EQ(most_inside, 1);
}

TEST_F(SchedulerTest, StopWaitsForTheRunningJob) {
  Gate gate;
  std::atomic<bool> entered{false};
  std::atomic<bool> finished{false};
  auto scheduler = NewScheduler();
  ASSERT_TRUE(scheduler
                  ->Add("backup_full", Parse("daily 23:00"),
                        [&] {
                          entered = true;
                          gate.Wait();
                          finished = true;
                          return Status::Ok();
                        })
                  .ok());
  scheduler->Start();
  env_.SetNowMicros(Utc(2026, 11, 29, 15, 0));
  ASSERT_TRUE(Eventually([&] { return entered.load(); }));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    scheduler->Stop();
    EXPECT_TRUE(finished.load());  // Stop returned only after the job ended
    stopped = true;
  });
  LetItPoll();
  EXPECT_FALSE(stopped.load());
  gate.Open();
  stopper.join();
  EXPECT_TRUE(stopped.load());
  EXPECT_EQ(scheduler->RunNow("backup_full").code(), ErrorCode::kUnavailable);
  EXPECT_EQ(Setting("job.backup_full.last_result"), "ok");
}

TEST_F(SchedulerTest, StopWaitsForARunNowOnAnotherThread) {
  Gate gate;
  std::atomic<bool> entered{false};
  auto scheduler = NewScheduler();
  ASSERT_TRUE(scheduler
                  ->Add("manual", Parse("off"),
                        [&] {
                          entered = true;
                          gate.Wait();
                          return Status::Ok();
                        })
                  .ok());
  std::thread runner([&] { EXPECT_TRUE(scheduler->RunNow("manual").ok()); });
  ASSERT_TRUE(Eventually([&] { return entered.load(); }));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    scheduler->Stop();
    stopped = true;
  });
  LetItPoll();
  EXPECT_FALSE(stopped.load());
  gate.Open();
  runner.join();
  stopper.join();
  EXPECT_TRUE(stopped.load());
}

TEST_F(SchedulerTest, AddRefusesBadNamesDuplicatesAndLateAdds) {
  auto scheduler = NewScheduler();
  auto ok = [] { return Status::Ok(); };
  EXPECT_EQ(scheduler->Add("", Parse("off"), ok).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(scheduler->Add("Backup", Parse("off"), ok).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(scheduler->Add("backup-full", Parse("off"), ok).code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(scheduler->Add(std::string(49, 'a'), Parse("off"), ok).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(scheduler->Add(std::string(48, 'a'), Parse("off"), ok).ok());
  EXPECT_EQ(scheduler->Add("x", Parse("off"), nullptr).code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(scheduler->Add("backup_full", Parse("off"), ok).ok());
  EXPECT_EQ(scheduler->Add("backup_full", Parse("daily 01:00"), ok).code(), ErrorCode::kConflict);
  scheduler->Start();
  EXPECT_EQ(scheduler->Add("late", Parse("off"), ok).code(), ErrorCode::kUnavailable);
  EXPECT_EQ(scheduler->List().size(), 2u);
}

TEST_F(SchedulerTest, AGarbledPersistedRecordCountsAsAbsent) {
  ASSERT_TRUE(store_->PutSetting("job.backup_full.last_run_us", "12x").ok());
  auto scheduler = NewScheduler();
  ASSERT_TRUE(scheduler->Add("backup_full", Parse("off"), [] { return Status::Ok(); }).ok());
  EXPECT_EQ(StatusOf(*scheduler, "backup_full").last_run_at_us, 0);
}

TEST_F(SchedulerTest, ListShowsAnOverdueJobAsDueNow) {
  std::atomic<int> runs{0};
  {
    auto scheduler = NewScheduler();
    ASSERT_TRUE(scheduler->Add("backup_incremental", Parse("daily 23:00"), Counter(runs)).ok());
    ASSERT_TRUE(scheduler->RunNow("backup_incremental").ok());
  }
  env_.AdvanceMicros(2 * kDay);
  auto scheduler = NewScheduler();  // not started: e.g. `custvault jobs list`
  ASSERT_TRUE(scheduler->Add("backup_incremental", Parse("daily 23:00"), Counter(runs)).ok());
  // Missed: Nov 29 and Nov 30 at 15:00 UTC (now is Dec 1 10:00 UTC); a
  // started scheduler runs it at its next look, so it shows as due at the
  // latest missed time.
  EXPECT_EQ(StatusOf(*scheduler, "backup_incremental").next_run_at_us, Utc(2026, 11, 30, 15, 0));
}

}  // namespace
}  // namespace custvault::jobs
