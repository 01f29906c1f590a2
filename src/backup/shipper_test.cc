// R-BAK-2a: continuous shipping puts every committed change off-site once,
// in order, and resumes after a restart or a failed write without a gap or
// a duplicate; a pruned journal starts a new chain; compaction loses
// nothing; the shred ledger goes off-site no later than the deletion.
#include "backup/shipper.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "common/fake_env.h"
#include "store/shred_ledger.h"
#include "store/sqlite/sqlite_audit_store.h"
#include "store/sqlite/sqlite_backup.h"
#include "store/store.h"

namespace custvault::backup {
namespace {

namespace fs = std::filesystem;
using store::sqlite::JournalBounds;

class FakeSource final : public ChangeSource {
 public:
  void Commit(int64_t at_us, int rows = 1) {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < rows; ++i) {
      const int64_t seq = next_seq_++;
      journal_[seq] = {seq, at_us, "patch-" + std::to_string(seq)};
    }
  }
  void Audit(int entries) {
    std::lock_guard lock(mutex_);
    for (int i = 0; i < entries; ++i) {
      store::AuditEntryRow row;
      row.seq = next_audit_++;
      row.operation = "customer.create";
      audit_.push_back(row);
    }
  }
  void PruneThrough(int64_t seq) {
    std::lock_guard lock(mutex_);
    journal_.erase(journal_.begin(), journal_.upper_bound(seq));
  }

  Result<JournalBounds> Bounds() override {
    std::lock_guard lock(mutex_);
    if (journal_.empty()) return store::sqlite::JournalBounds{};
    return store::sqlite::JournalBounds{journal_.begin()->first, journal_.rbegin()->first, 0, 6};
  }
  Result<std::vector<JournalRecord>> JournalAfter(int64_t after_seq, int max_rows,
                                               size_t) override {
    std::lock_guard lock(mutex_);
    std::vector<JournalRecord> rows;
    for (auto it = journal_.upper_bound(after_seq);
         it != journal_.end() && static_cast<int>(rows.size()) < max_rows; ++it) {
      rows.push_back(it->second);
    }
    if (!rows.empty() && rows.front().seq != after_seq + 1) return DataLoss("gap");
    return rows;
  }
  Status AuditAfter(int64_t after_seq, int max_entries, ShippedSegment* into) override {
    std::lock_guard lock(mutex_);
    into->audit_entries.clear();
    into->audit_head.reset();
    for (const auto& row : audit_) {
      if (row.seq > after_seq && static_cast<int>(into->audit_entries.size()) < max_entries) {
        into->audit_entries.push_back(row);
      }
    }
    if (!into->audit_entries.empty() && into->audit_entries.back().seq == next_audit_ - 1) {
      into->audit_head = store::AuditHeadRow{into->audit_entries.back().seq, "h", 0, 1, "m"};
    }
    return Status::Ok();
  }

 private:
  std::mutex mutex_;
  std::map<int64_t, JournalRecord> journal_;
  std::vector<store::AuditEntryRow> audit_;
  int64_t next_seq_ = 1;
  int64_t next_audit_ = 1;
};

// Segments kept in memory: the "off-site directory" outlives the shippers.
class MemoryFormat final : public SegmentFormat {
 public:
  Result<ShippedSegmentInfo> Write(const std::string&, const ShippedSegment& segment) override {
    std::lock_guard lock(mutex_);
    if (fail_writes_ > 0) {
      --fail_writes_;
      return Internal("injected: off-site mount unavailable");
    }
    ShippedSegmentInfo info;
    info.name = "seg-" + std::to_string(segment.journal_from_seq) + "-" +
                std::to_string(segment.journal_to_seq) + "-" +
                std::to_string(segment.audit_from_seq) + "-" +
                std::to_string(segment.audit_to_seq);
    info.journal_from_seq = segment.journal_from_seq;
    info.journal_to_seq = segment.journal_to_seq;
    info.audit_from_seq = segment.audit_from_seq;
    info.audit_to_seq = segment.audit_to_seq;
    info.created_at_us = segment.created_at_us;
    info.new_chain = segment.new_chain;
    info.chain_id = segment.new_chain ? info.name : segment.chain_id;
    info.previous_name = segment.previous_name;
    info.manifest_sm3 = "sm3-of-" + info.name;
    if (!segment.new_chain && segment.previous_manifest_sm3 != "sm3-of-" + segment.previous_name) {
      return Internal("the shipper linked " + info.name + " to the wrong predecessor");
    }
    segments_[info.name] = {info, segment};
    ++writes_;
    return info;
  }
  Result<std::vector<ShippedSegmentInfo>> List(const std::string&) override {
    std::lock_guard lock(mutex_);
    std::vector<ShippedSegmentInfo> out;
    for (const auto& [name, stored] : segments_) out.push_back(stored.first);
    return out;
  }
  Result<ShippedSegment> Read(const std::string&, const std::string& name) override {
    std::lock_guard lock(mutex_);
    auto it = segments_.find(name);
    if (it == segments_.end()) return NotFound(name);
    return it->second.second;
  }
  Status Remove(const std::string&, const std::string& name) override {
    std::lock_guard lock(mutex_);
    segments_.erase(name);
    return Status::Ok();
  }

  void FailNextWrites(int n) { fail_writes_ = n; }
  size_t count() {
    std::lock_guard lock(mutex_);
    return segments_.size();
  }
  int writes() const { return writes_; }
  void Drop(const std::string& name) { segments_.erase(name); }

  // Every journal seq and audit seq in the stored segments, applied as a
  // restore would (in shipping order, skipping what was applied already),
  // and the number of times a seq appeared in a segment that was applied.
  struct Replay {
    std::vector<int64_t> journal;
    std::vector<int64_t> audit;
  };
  Replay ReplayAll() {
    std::vector<ShippedSegmentInfo> infos = *List("");
    SortSegments(&infos);
    Replay replay;
    int64_t j = 0, a = 0;
    for (const ShippedSegmentInfo& info : infos) {
      const ShippedSegment& segment = segments_.at(info.name).second;
      for (const JournalRecord& row : segment.journal) {
        if (row.seq > j) replay.journal.push_back(row.seq), j = row.seq;
      }
      for (const auto& entry : segment.audit_entries) {
        if (entry.seq > a) replay.audit.push_back(entry.seq), a = entry.seq;
      }
    }
    return replay;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::pair<ShippedSegmentInfo, ShippedSegment>> segments_;
  int fail_writes_ = 0;
  int writes_ = 0;
};

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i <= to; ++i) out.push_back(i);
  return out;
}

class ShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("cv_shipper_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "data");
    options_.offsite_dir = (root_ / "offsite").string();
    fs::create_directories(options_.offsite_dir);
    options_.shred_ledger_path = (root_ / "data" / store::kShredLedgerFileName).string();
    options_.interval_ms = 5;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<Shipper> NewShipper() {
    return std::make_unique<Shipper>(&env_, source_, format_, options_);
  }

  FakeEnv env_;
  FakeSource source_;
  MemoryFormat format_;
  ShipperOptions options_;
  fs::path root_;
};

TEST_F(ShipperTest, ShipsEveryCommittedChangeOnceInOrder) {
  auto shipper = NewShipper();
  source_.Commit(env_.NowMicros(), 5);
  source_.Audit(7);
  auto shipped = shipper->ShipOnce();
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  EXPECT_EQ(*shipped, 5);
  // Nothing new: no segment.
  EXPECT_EQ(*shipper->ShipOnce(), 0);
  EXPECT_EQ(format_.count(), 1u);
  source_.Commit(env_.NowMicros(), 3);
  EXPECT_EQ(*shipper->ShipOnce(), 3);
  const auto replay = format_.ReplayAll();
  EXPECT_EQ(replay.journal, Range(1, 8));
  EXPECT_EQ(replay.audit, Range(1, 7));
  const ShipperStatus status = shipper->CurrentStatus();
  EXPECT_EQ(status.journal_seq, 8);
  EXPECT_EQ(status.audit_seq, 7);
  EXPECT_EQ(status.segments, 2);
  EXPECT_EQ(status.rows_shipped, 8);
}

TEST_F(ShipperTest, ResumesAfterRestartWithoutGapsOrDuplicates) {
  {
    auto shipper = NewShipper();
    source_.Commit(env_.NowMicros(), 4);
    source_.Audit(2);
    ASSERT_TRUE(shipper->ShipOnce().ok());
  }  // the process ends
  source_.Commit(env_.NowMicros(), 6);  // committed while nothing shipped
  source_.Audit(3);
  auto restarted = NewShipper();
  ASSERT_TRUE(restarted->Recover().ok());
  EXPECT_EQ(restarted->CurrentStatus().journal_seq, 4);
  EXPECT_EQ(restarted->CurrentStatus().audit_seq, 2);
  ASSERT_TRUE(restarted->ShipOnce().ok());
  const auto replay = format_.ReplayAll();
  EXPECT_EQ(replay.journal, Range(1, 10));
  EXPECT_EQ(replay.audit, Range(1, 5));
  // Each seq is in exactly one segment: no duplicate was written.
  std::multiset<int64_t> all;
  const std::vector<ShippedSegmentInfo> infos = *format_.List("");
  for (const auto& info : infos) {
    const ShippedSegment segment = *format_.Read("", info.name);
    for (const auto& row : segment.journal) all.insert(row.seq);
  }
  EXPECT_EQ(all.size(), 10u);
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), 10u);
}

TEST_F(ShipperTest, AFailedWriteMovesNothingAndTheNextRoundShipsIt) {
  auto shipper = NewShipper();
  source_.Commit(env_.NowMicros(), 3);
  format_.FailNextWrites(2);
  EXPECT_FALSE(shipper->ShipOnce().ok());
  EXPECT_NE(shipper->CurrentStatus().last_error.find("off-site mount unavailable"),
            std::string::npos);
  source_.Commit(env_.NowMicros(), 2);
  EXPECT_FALSE(shipper->ShipOnce().ok());
  EXPECT_EQ(shipper->CurrentStatus().journal_seq, 0);
  auto shipped = shipper->ShipOnce();
  ASSERT_TRUE(shipped.ok());
  EXPECT_EQ(*shipped, 5);
  EXPECT_EQ(shipper->CurrentStatus().last_error, "");
  EXPECT_EQ(format_.ReplayAll().journal, Range(1, 5));
}

TEST_F(ShipperTest, AJournalPrunedPastThePositionStartsANewChain) {
  auto shipper = NewShipper();
  source_.Commit(env_.NowMicros(), 3);
  ASSERT_TRUE(shipper->ShipOnce().ok());
  source_.Commit(env_.NowMicros(), 5);  // 4..8
  source_.PruneThrough(5);              // 4 and 5 never shipped
  auto shipped = shipper->ShipOnce();
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  EXPECT_EQ(*shipped, 3);
  EXPECT_EQ(shipper->CurrentStatus().gaps, 1);
  std::vector<ShippedSegmentInfo> infos = *format_.List("");
  SortSegments(&infos);
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_TRUE(infos[0].new_chain);
  EXPECT_TRUE(infos[1].new_chain);
  EXPECT_EQ(infos[1].journal_from_seq, 6);
  // And a restart accepts the stored chain with its marked gap.
  auto restarted = NewShipper();
  EXPECT_TRUE(restarted->Recover().ok());
  EXPECT_EQ(restarted->CurrentStatus().journal_seq, 8);
}

TEST_F(ShipperTest, ASegmentMissingFromTheMiddleIsRefusedAtRestartNamingIt) {
  auto shipper = NewShipper();
  for (int i = 0; i < 3; ++i) {
    source_.Commit(env_.NowMicros(), 2);
    ASSERT_TRUE(shipper->ShipOnce().ok());
  }
  format_.Drop("seg-3-4-1-0");
  auto restarted = NewShipper();
  const Status recovered = restarted->Recover();
  EXPECT_EQ(recovered.code(), ErrorCode::kDataLoss);
  EXPECT_NE(recovered.message().find("seg-5-6-1-0"), std::string::npos) << recovered.ToString();
}

TEST_F(ShipperTest, CompactionMergesSmallSegmentsAndLosesNothing) {
  options_.compact_every = 4;
  auto shipper = NewShipper();
  for (int i = 0; i < 9; ++i) {
    source_.Commit(env_.NowMicros(), 2);
    source_.Audit(1);
    ASSERT_TRUE(shipper->ShipOnce().ok());
  }
  EXPECT_LT(format_.count(), 9u);
  const auto replay = format_.ReplayAll();
  EXPECT_EQ(replay.journal, Range(1, 18));
  EXPECT_EQ(replay.audit, Range(1, 9));
  auto restarted = NewShipper();
  ASSERT_TRUE(restarted->Recover().ok());
  EXPECT_EQ(restarted->CurrentStatus().journal_seq, 18);
}

TEST_F(ShipperTest, AnInterruptedCompactionIsFinishedAtRestart) {
  auto shipper = NewShipper();
  for (int i = 0; i < 3; ++i) {
    source_.Commit(env_.NowMicros(), 2);
    ASSERT_TRUE(shipper->ShipOnce().ok());
  }
  // The merged segment was written, the pieces not yet removed.
  ShippedSegment merged;
  merged.journal_from_seq = 1;
  merged.journal_to_seq = 6;
  merged.audit_from_seq = 1;
  merged.audit_to_seq = 0;
  merged.new_chain = true;
  const std::vector<ShippedSegmentInfo> infos = *format_.List("");
  for (const auto& info : infos) {
    const ShippedSegment segment = *format_.Read("", info.name);
    for (const auto& row : segment.journal) merged.journal.push_back(row);
  }
  std::sort(merged.journal.begin(), merged.journal.end(),
            [](const JournalRecord& a, const JournalRecord& b) { return a.seq < b.seq; });
  ASSERT_TRUE(format_.Write("", merged).ok());
  EXPECT_EQ(format_.count(), 4u);
  auto restarted = NewShipper();
  ASSERT_TRUE(restarted->Recover().ok());
  EXPECT_EQ(format_.count(), 1u) << "the merged pieces are removed";
  EXPECT_EQ(format_.ReplayAll().journal, Range(1, 6));
}

TEST_F(ShipperTest, TheShredLedgerGoesOffsiteBeforeTheSegment) {
  auto shipper = NewShipper();
  const store::ShredEntry deleted{"C20261129000001", env_.NowMicros()};
  ASSERT_TRUE(store::AppendShredLedger(options_.shred_ledger_path, {&deleted, 1}).ok());
  source_.Commit(env_.NowMicros(), 1);
  format_.FailNextWrites(1);  // the segment fails: the ledger is off-site already
  EXPECT_FALSE(shipper->ShipOnce().ok());
  auto offsite = store::ReadShredLedger(options_.offsite_dir + "/" + store::kShredLedgerFileName);
  ASSERT_TRUE(offsite.ok()) << offsite.status().ToString();
  ASSERT_EQ(offsite->entries.size(), 1u);
  EXPECT_EQ(offsite->entries[0], deleted);
  // A second deletion is merged in, not duplicated.
  const store::ShredEntry second{"C20261129000002", env_.NowMicros() + 1};
  ASSERT_TRUE(store::AppendShredLedger(options_.shred_ledger_path, {&second, 1}).ok());
  ASSERT_TRUE(shipper->ShipOnce().ok());
  offsite = store::ReadShredLedger(options_.offsite_dir + "/" + store::kShredLedgerFileName);
  ASSERT_TRUE(offsite.ok());
  EXPECT_EQ(offsite->entries.size(), 2u);
  EXPECT_EQ(shipper->CurrentStatus().ledger_entries_shipped, 2);
}

TEST_F(ShipperTest, LagIsMeasuredFromCommitToDurable) {
  auto shipper = NewShipper();
  source_.Commit(env_.NowMicros() - 300'000, 10);  // committed 300 ms ago
  source_.Commit(env_.NowMicros() - 1'500'000, 1);
  ASSERT_TRUE(shipper->ShipOnce().ok());
  const ShipperStatus status = shipper->CurrentStatus();
  EXPECT_EQ(status.lag_samples, 11);
  EXPECT_EQ(status.lag_p50_ms, 300);
  EXPECT_EQ(status.lag_max_ms, 1500);
}

TEST_F(ShipperTest, TheThreadShipsUntilStoppedAndStopShipsTheRest) {
  auto shipper = NewShipper();
  ASSERT_TRUE(shipper->Start().ok());
  EXPECT_TRUE(shipper->CurrentStatus().running);
  for (int i = 0; i < 20; ++i) {
    source_.Commit(env_.NowMicros(), 3);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  shipper->Stop();
  EXPECT_FALSE(shipper->CurrentStatus().running);
  EXPECT_EQ(format_.ReplayAll().journal, Range(1, 60));
}

TEST_F(ShipperTest, ThePositionIsRecordedForJournalPruningNoMoreOftenThanAsked) {
  std::vector<int64_t> recorded;
  options_.record_position = [&](int64_t seq) {
    recorded.push_back(seq);
    return Status::Ok();
  };
  options_.position_every_ms = 1000;
  auto shipper = NewShipper();
  source_.Commit(env_.NowMicros(), 2);
  ASSERT_TRUE(shipper->ShipOnce().ok());
  source_.Commit(env_.NowMicros(), 2);
  ASSERT_TRUE(shipper->ShipOnce().ok());  // too soon: not recorded
  env_.AdvanceMicros(1'000'000);
  source_.Commit(env_.NowMicros(), 1);
  ASSERT_TRUE(shipper->ShipOnce().ok());
  EXPECT_EQ(recorded, (std::vector<int64_t>{2, 5}));
}

TEST_F(ShipperTest, AMissingOffsiteDirectoryIsReportedNotCreatedAndRetried) {
  fs::remove_all(options_.offsite_dir);
  auto shipper = NewShipper();
  source_.Commit(env_.NowMicros(), 2);
  ASSERT_TRUE(shipper->Start().ok()) << "the server starts; shipping waits for the mount";
  EXPECT_NE(shipper->CurrentStatus().last_error.find("mounted"), std::string::npos)
      << shipper->CurrentStatus().last_error;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(fs::exists(options_.offsite_dir));
  // The mount comes back: the next rounds ship everything.
  fs::create_directories(options_.offsite_dir);
  // The shipper's thread retries on its own timer: poll, with a deadline no
  // busy machine reaches (Issue 11.12: 2 s was not).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (shipper->CurrentStatus().journal_seq < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  shipper->Stop();
  EXPECT_EQ(format_.ReplayAll().journal, Range(1, 2));
  EXPECT_EQ(shipper->CurrentStatus().last_error, "");
}

TEST_F(ShipperTest, NoOffsiteDirectoryIsRefused) {
  options_.offsite_dir.clear();
  auto shipper = NewShipper();
  EXPECT_EQ(shipper->Start().code(), ErrorCode::kInvalidArgument);
}

// The production source over a real store: contiguous rows, in commit order.
TEST_F(ShipperTest, TheJournalReaderSeesEveryCommitOfARealStore) {
  store::SqliteOptions options;
  options.path = (root_ / "data" / "custvault.db").string();
  options.env = &env_;
  auto store = store::OpenSqliteStore(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int i = 0; i < 25; ++i) {
    store::CustomerRecord record;
    record.id = "C2026112900" + std::to_string(1000 + i);
    record.wrapped_key = "k";
    record.created_at_us = record.updated_at_us = env_.NowMicros();
    record.fields["name"] = "envelope";
    ASSERT_TRUE((*store)->InsertCustomer(record).ok());
  }
  auto reader = store::sqlite::JournalReader::Open(options.path);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  auto audit = store::sqlite::SqliteAuditStore::Open({.path = (root_ / "data" / "audit.db").string()});
  ASSERT_TRUE(audit.ok());
  std::unique_ptr<ChangeSource> source = MakeChangeSource(std::move(*reader), **audit);
  auto bounds = source->Bounds();
  ASSERT_TRUE(bounds.ok());
  EXPECT_GE(bounds->last_seq - bounds->first_seq + 1, 25);
  int64_t after = bounds->first_seq - 1;
  int64_t seen = 0;
  while (after < bounds->last_seq) {
    auto rows = source->JournalAfter(after, 7, 1 << 20);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    ASSERT_FALSE(rows->empty());
    for (const JournalRecord& row : *rows) {
      EXPECT_EQ(row.seq, after + 1);
      EXPECT_FALSE(row.patchset.empty());
      after = row.seq;
      ++seen;
    }
  }
  EXPECT_GE(seen, 25);
  auto none = source->JournalAfter(after, 7, 1 << 20);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // Rows pruned before they were read: a gap, named.
  ASSERT_TRUE(store::sqlite::PruneJournal(options.path, bounds->first_seq + 5).ok());
  auto gap = source->JournalAfter(bounds->first_seq - 1, 5, 1 << 20);
  EXPECT_EQ(gap.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(gap.status().message().find("change journal gap"), std::string::npos);
}

}  // namespace
}  // namespace custvault::backup
