// R-AUD-3 (retention), R-AUD-5 (durable before the answer, group commit,
// no audit no access), R-AUD-2 (checkpoints, head), R-AUD-4 (alerts stored).
#include "audit/audit_log.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "audit/audit_test_util.h"
#include "audit/checkpoint.h"
#include "audit/verify.h"

namespace custvault::audit {
namespace {

constexpr int64_t kDayUs = 86'400'000'000;

int64_t RealNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Counts refused appends and lets a test wait for the first one. With the
// writer held and queue_max callers already waiting, one more caller is
// refused at once: that refusal is the explicit sign that the queue is full,
// i.e. every other caller has reached it (Issue 11.12: no sleep guesses it).
class RefusalLatch {
 public:
  void Refused() {
    {
      std::lock_guard lock(mutex_);
      ++refused_;
    }
    changed_.notify_all();
  }
  // True once a caller was refused; false after a generous deadline (a
  // guard against a hang, not a timing expectation).
  bool AwaitRefusal() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(60), [this] { return refused_ > 0; });
  }
  int refused() {
    std::lock_guard lock(mutex_);
    return refused_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int refused_ = 0;
};

// Wraps a real store; can fail or hold up the next AppendBatch calls.
class FaultyAuditStore final : public store::AuditStore {
 public:
  explicit FaultyAuditStore(std::unique_ptr<store::AuditStore> inner) : inner_(std::move(inner)) {}

  std::atomic<int> fail_next_appends{0};
  std::atomic<int> append_calls{0};

  void Hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mutex_);
      held_ = false;
    }
    released_.notify_all();
  }
  // Waits until the writer is inside a held AppendBatch.
  void AwaitHeldWriter() {
    std::unique_lock lock(mutex_);
    released_.wait(lock, [this] { return writer_waiting_; });
  }

  Status AppendBatch(std::span<const store::AuditEntryRow> entries,
                     std::span<const store::AuditCheckpointRow> checkpoints,
                     std::span<const store::LoginIpRow> login_ips,
                     const store::AuditHeadRow& head) override {
    ++append_calls;
    {
      std::unique_lock lock(mutex_);
      writer_waiting_ = held_;
      released_.notify_all();
      released_.wait(lock, [this] { return !held_; });
      writer_waiting_ = false;
    }
    if (fail_next_appends > 0) {
      --fail_next_appends;
      return Internal("injected: disk full");
    }
    return inner_->AppendBatch(entries, checkpoints, login_ips, head);
  }
  Result<std::optional<store::AuditHeadRow>> Head() override { return inner_->Head(); }
  Result<std::optional<store::AuditEntryRow>> LastEntry() override { return inner_->LastEntry(); }
  Result<std::optional<store::AuditEntryRow>> FirstEntry() override { return inner_->FirstEntry(); }
  Result<int64_t> EntryCount() override { return inner_->EntryCount(); }
  Result<std::vector<std::string>> ChainedOutboxTokens(
      const std::vector<std::string>& tokens) override {
    return inner_->ChainedOutboxTokens(tokens);
  }
  Result<int64_t> PruneChainedOutboxTokens(int64_t before_us) override {
    return inner_->PruneChainedOutboxTokens(before_us);
  }
  Status ScanEntries(int64_t from_seq, store::AuditChainSnapshot* snapshot,
                     const std::function<Status(const store::AuditEntryView&)>& visit) override {
    return inner_->ScanEntries(from_seq, snapshot, visit);
  }
  Result<std::vector<store::AuditCheckpointRow>> Checkpoints() override {
    return inner_->Checkpoints();
  }
  Result<std::vector<store::AuditEntryRow>> Search(const store::AuditQuery& query) override {
    return inner_->Search(query);
  }
  Result<std::optional<int64_t>> LastSeqBefore(int64_t before_us) override {
    return inner_->LastSeqBefore(before_us);
  }
  Result<int64_t> Purge(int64_t last_seq, const store::AuditCheckpointRow& checkpoint) override {
    return inner_->Purge(last_seq, checkpoint);
  }
  Result<std::vector<store::LoginIpRow>> LoginIps(int limit) override {
    return inner_->LoginIps(limit);
  }
  Result<int64_t> InsertAlert(const store::AlertRow& alert) override {
    return inner_->InsertAlert(alert);
  }
  Result<std::vector<store::AlertRow>> Alerts(bool open_only, int64_t after_id,
                                              int limit) override {
    return inner_->Alerts(open_only, after_id, limit);
  }
  Status AcknowledgeAlert(int64_t id, std::string_view by, int64_t at_us) override {
    return inner_->AcknowledgeAlert(id, by, at_us);
  }

 private:
  std::unique_ptr<store::AuditStore> inner_;
  std::mutex mutex_;
  std::condition_variable released_;
  bool held_ = false;
  bool writer_waiting_ = false;
};

class AuditLogTest : public testing::AuditFixture {
 protected:
  FaultyAuditStore* OpenFaulty() {
    auto inner = store::sqlite::SqliteAuditStore::Open({.path = DbPath()});
    EXPECT_TRUE(inner.ok());
    auto faulty = std::make_unique<FaultyAuditStore>(std::move(inner).value());
    FaultyAuditStore* raw = faulty.get();
    auto log = AuditLog::Open(&env_, std::move(faulty), keyring_.get(), options_);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    return raw;
  }

  VerifyReport Verify() {
    auto store = store::sqlite::SqliteAuditStore::Open({.path = DbPath()});
    auto report = VerifyChain(**store, *keyring_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return *report;
  }
};

TEST_F(AuditLogTest, RAud5AppendedEntriesAreDurableAcrossReopenAndVerify) {
  OpenOrDie();
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::set<int64_t> seqs;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto seq = log_->Append(Event("user" + std::to_string(t)));
        ASSERT_TRUE(seq.ok()) << seq.status().ToString();
        std::lock_guard lock(mutex);
        EXPECT_TRUE(seqs.insert(*seq).second);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(seqs.size(), 200u);
  EXPECT_EQ(*seqs.begin(), 1);
  EXPECT_EQ(*seqs.rbegin(), 200);
  log_.reset();
  OpenOrDie();
  EXPECT_EQ(log_->store().EntryCount().value(), 200);
  auto next = log_->Append(Event("after-reopen"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 201);
  log_.reset();
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.intact()) << report.detail;
  EXPECT_EQ(report.entries_checked, 201);
}

// A CLI command run while the server runs appends to the same audit.db
// from a second process. The first log's next batch meets the other's seq
// (kConflict), reloads the head and chains onto it: no caller sees an
// error and the chain stays one.
TEST_F(AuditLogTest, RAud5ASecondWriterOnTheSameFileDoesNotFailTheFirst) {
  OpenOrDie();
  ASSERT_TRUE(log_->Append(Event("server")).ok());
  auto other = OpenLog();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  for (int i = 0; i < 3; ++i) {
    auto seq = (*other)->Append(Event("cli"));
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    EXPECT_EQ(*seq, 2 + i);
  }
  auto after = log_->Append(Event("server"));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(*after, 5);
  auto again = (*other)->Append(Event("cli"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, 6);
  other->reset();
  log_.reset();
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.intact()) << report.detail;
  EXPECT_EQ(report.entries_checked, 6);
}

TEST_F(AuditLogTest, RAud5ConcurrentAppendersShareGroupCommits) {
  // 32 fill the queue; a 33rd caller is refused, which shows all 32 wait.
  options_.config.queue_max = 32;
  FaultyAuditStore* store = OpenFaulty();
  // Hold the writer inside its first batch so the others pile up behind it.
  store->Hold();
  std::vector<std::thread> threads;
  threads.emplace_back([&] { ASSERT_TRUE(log_->Append(Event("first")).ok()); });
  store->AwaitHeldWriter();
  RefusalLatch latch;
  std::atomic<int> appended{0};
  for (int t = 0; t < 33; ++t) {
    threads.emplace_back([&] {
      auto seq = log_->Append(Event("waiting"));
      if (seq.ok()) {
        ++appended;
      } else {
        EXPECT_EQ(seq.status().code(), ErrorCode::kUnavailable);
        latch.Refused();
      }
    });
  }
  ASSERT_TRUE(latch.AwaitRefusal()) << "the queue never filled";
  store->Release();
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(latch.refused(), 1);
  EXPECT_EQ(appended.load(), 32);
  const AuditLogStats stats = log_->stats();
  EXPECT_EQ(stats.entries, 33);
  EXPECT_LT(stats.batches, 33);  // many entries per fsync
  EXPECT_LE(store->append_calls.load(), 3);
}

TEST_F(AuditLogTest, RAud5FullQueueAnswersUnavailableAtOnce) {
  options_.config.queue_max = 2;
  FaultyAuditStore* store = OpenFaulty();
  store->Hold();
  std::vector<std::thread> threads;
  threads.emplace_back([&] { EXPECT_TRUE(log_->Append(Event("in-batch")).ok()); });
  store->AwaitHeldWriter();  // the first entry left the queue
  std::atomic<int> queued_ok{0};
  RefusalLatch latch;
  // Three callers for two places: one is refused once the other two wait.
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      if (log_->Append(Event("queued")).ok()) {
        ++queued_ok;
      } else {
        latch.Refused();
      }
    });
  }
  ASSERT_TRUE(latch.AwaitRefusal()) << "the queue never filled";
  // "At once" without a stopwatch (Issue 11.12): the writer is still held,
  // so an Append that waited for a batch could not return at all; this one
  // answers while nothing has been written.
  auto refused = std::async(std::launch::async, [&] { return log_->Append(Event("one-too-many")); });
  ASSERT_EQ(refused.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "a caller over the queue limit waited for the held writer";
  EXPECT_EQ(refused.get().status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(store->append_calls.load(), 1);  // still inside the first batch
  store->Release();
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(queued_ok.load(), 2);
  EXPECT_EQ(latch.refused(), 1);
}

TEST_F(AuditLogTest, RAud5FailedWriteFailsEveryCallerAndKeepsTheHead) {
  options_.config.queue_max = 5;
  FaultyAuditStore* store = OpenFaulty();
  ASSERT_EQ(log_->Append(Event("before")).value(), 1);
  store->Hold();
  store->fail_next_appends = 1;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  threads.emplace_back([&] {
    if (!log_->Append(Event("doomed")).ok()) ++failed;
  });
  store->AwaitHeldWriter();
  // Five wait behind the failing batch: with queue_max 5, a sixth caller is
  // refused only once all five are queued (no sleep guesses it).
  RefusalLatch latch;
  std::atomic<int> next_ok{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      auto seq = log_->Append(Event("next-batch"));
      if (seq.ok()) {
        ++next_ok;
      } else {
        EXPECT_EQ(seq.status().code(), ErrorCode::kUnavailable);
        latch.Refused();
      }
    });
  }
  ASSERT_TRUE(latch.AwaitRefusal()) << "the queue never filled";
  store->Release();
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(next_ok.load(), 5);
  EXPECT_EQ(latch.refused(), 1);
  EXPECT_EQ(failed.load(), 1);
  EXPECT_EQ(log_->stats().failed_batches, 1);
  // The chain went on from entry 1: no hole where the failed batch was.
  auto next = log_->Append(Event("after"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 7);
  log_.reset();
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.intact()) << report.detail;
  EXPECT_EQ(report.entries_checked, 7);
}

TEST_F(AuditLogTest, RAud2CheckpointsComeByCountByTimeAndAtShutdown) {
  options_.config.checkpoint_every_entries = 5;
  options_.config.checkpoint_every_seconds = 60;
  OpenOrDie();
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(log_->Append(Event("a")).ok());
  auto checkpoints = log_->store().Checkpoints().value();
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0].seq, 5);
  EXPECT_EQ(checkpoints[0].kind, "periodic");
  env_.AdvanceMicros(61'000'000);
  ASSERT_TRUE(log_->Append(Event("a")).ok());  // seq 8: due by time
  checkpoints = log_->store().Checkpoints().value();
  ASSERT_EQ(checkpoints.size(), 2u);
  EXPECT_EQ(checkpoints[1].seq, 8);
  EXPECT_TRUE(CheckpointMacValid(*keyring_, checkpoints[1]).value());
  ASSERT_TRUE(log_->Append(Event("a")).ok());
  ASSERT_TRUE(log_->Close().ok());
  checkpoints = log_->store().Checkpoints().value();
  ASSERT_EQ(checkpoints.size(), 3u);
  EXPECT_EQ(checkpoints[2].seq, 9);
  EXPECT_EQ(checkpoints[2].kind, "shutdown");
  EXPECT_EQ(log_->Append(Event("late")).status().code(), ErrorCode::kUnavailable);
}

TEST_F(AuditLogTest, IdleWriterWritesATimeCheckpoint) {
  options_.config.checkpoint_every_seconds = 1;
  OpenOrDie();
  ASSERT_TRUE(log_->Append(Event("a")).ok());
  env_.AdvanceMicros(2'000'000);
  // The idle writer wakes on its own timer (real time, every 0.5 s) and has
  // no hook to wait on: poll the store for its checkpoint, with a deadline
  // far beyond any busy machine's delay (Issue 11.12: 2.5 s was not).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (log_->store().Checkpoints().value().empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto checkpoints = log_->store().Checkpoints().value();
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0].seq, 1);
}

TEST_F(AuditLogTest, TimeNeverGoesBackwardsAlongTheChain) {
  OpenOrDie();
  ASSERT_TRUE(log_->Append(Event("a")).ok());
  env_.AdvanceMicros(-3'600'000'000);  // the clock is set back an hour
  ASSERT_TRUE(log_->Append(Event("a")).ok());
  auto last = log_->store().LastEntry().value();
  auto first = log_->store().FirstEntry().value();
  EXPECT_GE(last->time_us, first->time_us);
}

TEST_F(AuditLogTest, MalformedEventsAreRefusedBeforeTheQueue) {
  OpenOrDie();
  AuditEvent event = Event("alice", "customer.peek");
  EXPECT_EQ(log_->Append(event).status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(log_->store().EntryCount().value(), 0);
}

TEST_F(AuditLogTest, OpenWithoutAnAuditKeyIsNotFound) {
  auto keyring =
      crypto::Keyring::Open(&env_, dir_ + "/other.key", crypto::CryptoProfile::kDefault, true);
  auto store = store::sqlite::SqliteAuditStore::Open({.path = DbPath()});
  auto log = AuditLog::Open(&env_, std::move(store).value(), keyring->get(), options_);
  EXPECT_EQ(log.status().code(), ErrorCode::kNotFound);
}

TEST_F(AuditLogTest, RAud3RetentionBelowThreeYearsIsRefused) {
  options_.config.retention_days = 365;
  EXPECT_EQ(OpenLog().status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(AuditLogTest, OpenRefusesATruncatedLog) {
  OpenOrDie();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(log_->Append(Event("a")).ok());
  log_.reset();
  Tamper("DELETE FROM audit_entries WHERE seq = 3;");
  EXPECT_EQ(OpenLog().status().code(), ErrorCode::kDataLoss);
}

TEST_F(AuditLogTest, RAud3PurgeRefusesEntriesYoungerThanTheRetention) {
  OpenOrDie();
  ASSERT_TRUE(log_->Append(Event("a")).ok());
  // A cutoff one day inside the retention, by the injected clock.
  const int64_t cutoff = env_.NowMicros() - 1095 * kDayUs;
  EXPECT_EQ(log_->PurgeOlderThan(cutoff).status().code(), ErrorCode::kInvalidArgument);
  // Even a far-future clock cannot purge the young entry through Purge():
  // the retention then reaches it by the fake clock, but the database
  // trigger (real clock) refuses the delete.
  env_.AdvanceMicros(2000 * kDayUs);
  EXPECT_FALSE(log_->Purge().ok());
  env_.AdvanceMicros(-2000 * kDayUs);
  EXPECT_EQ(log_->store().EntryCount().value(), 1);
}

TEST_F(AuditLogTest, RAud3PurgeLeavesASignedAnchorAndVerifyStartsThere) {
  // Entries written 1200 days ago by the fake clock (and by the real one,
  // which the database trigger uses), then some recent ones.
  env_.SetNowMicros(RealNowUs() - 1200 * kDayUs);
  OpenOrDie();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log_->Append(Event("old")).ok());
  env_.SetNowMicros(RealNowUs() - 10 * kDayUs);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(log_->Append(Event("recent")).ok());
  env_.SetNowMicros(RealNowUs());
  auto purged = log_->Purge();
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(purged->deleted, 5);
  EXPECT_EQ(purged->last_deleted_seq, 5);
  EXPECT_EQ(log_->store().EntryCount().value(), 3);
  // The database refuses to delete the young ones directly.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit_entries WHERE seq = 6", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  ASSERT_TRUE(log_->Append(Event("after-purge")).ok());
  log_.reset();
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.intact()) << report.detail;
  EXPECT_EQ(report.anchor_seq, 5);
  EXPECT_EQ(report.first_seq, 6);
  EXPECT_EQ(report.entries_checked, 4);
  // Deleting the purge anchor's successor is still caught.
  Tamper("DELETE FROM audit_entries WHERE seq = 6;");
  EXPECT_EQ(Verify().damage, Damage::kMissing);
}

TEST_F(AuditLogTest, RAud4AlertsAreStoredAfterCommit) {
  // 2026-11-30 03:00 China time (a Monday, outside 08:00-20:00).
  env_.SetNowMicros((1'795'968'000 + 3 * 3600) * int64_t{1'000'000});
  OpenOrDie();
  ASSERT_TRUE(log_->Append(Event("night-owl")).ok());
  log_.reset();  // the alert is written by the writer after the commit
  auto store = store::sqlite::SqliteAuditStore::Open({.path = DbPath()});
  auto alerts = (*store)->Alerts(false, 0, 10);
  ASSERT_TRUE(alerts.ok());
  ASSERT_EQ(alerts->size(), 1u);
  EXPECT_EQ((*alerts)[0].rule, "off_hours");
  EXPECT_EQ((*alerts)[0].actor_id, "night-owl");
}

// R-AUD-5 crash test: a child process appends from many threads; every
// seq it was told is durable goes down a pipe; the child is killed with
// SIGKILL mid-load. Reopened, the log verifies and holds every
// acknowledged entry.
TEST_F(AuditLogTest, RAud5EveryAcknowledgedEntrySurvivesKillNine) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    auto log = OpenLog();
    if (!log.ok()) _exit(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&log, fd = pipe_fds[1], t] {
        while (true) {
          auto seq = (*log)->Append(Event("load" + std::to_string(t)));
          if (!seq.ok()) continue;
          const int64_t value = *seq;
          // 8 bytes < PIPE_BUF: each write is atomic.
          if (write(fd, &value, sizeof value) != sizeof value) _exit(3);
        }
      });
    }
    for (auto& thread : threads) thread.join();
    _exit(0);
  }
  close(pipe_fds[1]);
  std::set<int64_t> acknowledged;
  // The kill comes after a number of acknowledged entries, not after a
  // time: a busy machine (or ASan) only makes the wait longer (Issue 11.12).
  constexpr size_t kAcknowledgedBeforeKill = 1000;
  int64_t value = 0;
  while (acknowledged.size() < kAcknowledgedBeforeKill) {
    if (read(pipe_fds[0], &value, sizeof value) != sizeof value) break;
    acknowledged.insert(value);
  }
  kill(child, SIGKILL);
  while (read(pipe_fds[0], &value, sizeof value) == sizeof value) acknowledged.insert(value);
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself: " << status;
  ASSERT_GE(acknowledged.size(), kAcknowledgedBeforeKill) << "the child stopped appending";

  OpenOrDie();  // checks the head against the last entry
  std::set<int64_t> stored;
  ASSERT_TRUE(log_->store()
                  .ScanEntries(0, nullptr,
                               [&stored](const store::AuditEntryView& entry) {
                                 stored.insert(entry.seq);
                                 return Status::Ok();
                               })
                  .ok());
  for (int64_t seq : acknowledged) EXPECT_TRUE(stored.contains(seq)) << "lost seq " << seq;
  log_.reset();
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.intact()) << report.detail;
  EXPECT_GE(report.entries_checked, static_cast<int64_t>(acknowledged.size()));
}

}  // namespace
}  // namespace custvault::audit
