// R-AUD-2: verification finds any edit, deletion, insertion, reorder,
// truncation or forged checkpoint and names the first bad entry. Each
// tamper is done with raw SQL on audit.db after dropping the triggers, as
// an attacker with file access would.
#include "audit/verify.h"

#include <gtest/gtest.h>

#include "audit/audit_test_util.h"
#include "audit/checkpoint.h"

namespace custvault::audit {
namespace {

constexpr int kEntries = 50;

std::string HexBlob(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out = "X'";
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out + "'";
}

class VerifyTest : public testing::AuditFixture {
 protected:
  void SetUp() override {
    AuditFixture::SetUp();
    options_.config.checkpoint_every_entries = 10;
    OpenOrDie();
    for (int i = 1; i <= kEntries; ++i) {
      env_.AdvanceMicros(1000);
      AuditEvent event = Event("user" + std::to_string(i % 4));
      event.details["count"] = i;
      ASSERT_TRUE(log_->Append(event).ok());
    }
    ASSERT_TRUE(log_->Close().ok());
    log_.reset();
  }

  VerifyReport Verify() {
    auto store = store::sqlite::SqliteAuditStore::Open({.path = DbPath()});
    EXPECT_TRUE(store.ok());
    auto report = VerifyChain(**store, *keyring_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : VerifyReport{};
  }

  store::AuditEntryRow Entry(int64_t seq) {
    auto store = store::sqlite::SqliteAuditStore::Open({.path = DbPath()});
    store::AuditQuery query;
    query.after_seq = seq - 1;
    query.limit = 1;
    auto rows = (*store)->Search(query);
    EXPECT_TRUE(rows.ok() && !rows->empty());
    return rows->front();
  }

  static std::string InsertSql(const store::AuditEntryRow& row) {
    return "INSERT INTO audit_entries VALUES (" + std::to_string(row.seq) + ", " +
           std::to_string(row.time_us) + ", '" + row.actor_id + "', '" + row.actor_role + "', '" +
           row.source_ip + "', '" + row.operation + "', '" + row.customer_id + "', '" + row.result +
           "', '" + row.details + "', " + HexBlob(row.prev_hash) + ", " + HexBlob(row.hash) + ");";
  }

  // A made-up entry that links properly after `prev`.
  static store::AuditEntryRow Forge(const store::AuditEntryRow& prev, int64_t seq) {
    store::AuditEntryRow row = prev;
    row.seq = seq;
    row.actor_id = "mallory";
    row.prev_hash = prev.hash;
    ChainHasher hasher;
    row.hash = std::string(crypto::DigestView(hasher.Hash(row.prev_hash, ViewOf(row))));
    return row;
  }

  // Shifts entries with seq >= from up by one (two steps: seq is a key).
  static std::string ShiftUpSql(int64_t from) {
    return "UPDATE audit_entries SET seq = -(seq + 1) WHERE seq >= " + std::to_string(from) +
           "; UPDATE audit_entries SET seq = -seq WHERE seq < 0;";
  }
};

TEST_F(VerifyTest, RAud2IntactChainVerifies) {
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.intact()) << report.detail;
  EXPECT_EQ(report.entries_checked, kEntries);
  EXPECT_EQ(report.first_seq, 1);
  EXPECT_EQ(report.last_seq, kEntries);
  EXPECT_EQ(report.head_seq, kEntries);
  // Periodic checkpoints at 10, 20, 30, 40, 50 and the shutdown one.
  EXPECT_EQ(report.checkpoints_checked, 6);
}

TEST_F(VerifyTest, RAud2EditedFieldIsNamed) {
  Tamper("UPDATE audit_entries SET actor_id = 'someone_else' WHERE seq = 17;");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kEdited) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 17);
  EXPECT_EQ(report.entries_checked, 16);
}

TEST_F(VerifyTest, RAud2EditedDetailsAreNamed) {
  Tamper("UPDATE audit_entries SET details = '{\"count\":1}' WHERE seq = 33;");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kEdited) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 33);
}

TEST_F(VerifyTest, RAud2DeletedEntryIsNamedMissing) {
  Tamper("DELETE FROM audit_entries WHERE seq = 23;");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kMissing) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 23);
}

TEST_F(VerifyTest, RAud2DeletedAndRenumberedEntryIsNamedMissing) {
  Tamper(
      "DELETE FROM audit_entries WHERE seq = 23;"
      "UPDATE audit_entries SET seq = seq - 1 WHERE seq > 23;");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kMissing) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 23);
}

TEST_F(VerifyTest, RAud2DeletedFirstEntryIsNamedMissing) {
  Tamper("DELETE FROM audit_entries WHERE seq = 1;");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kMissing) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 1);
}

TEST_F(VerifyTest, RAud2InsertedWellChainedEntryIsNamed) {
  const store::AuditEntryRow forged = Forge(Entry(30), 31);
  Tamper(ShiftUpSql(31) + InsertSql(forged));
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kInserted) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 31);
}

TEST_F(VerifyTest, RAud2InsertedJunkEntryIsNamed) {
  store::AuditEntryRow junk = Forge(Entry(30), 31);
  junk.hash = std::string(32, 'j');
  Tamper(ShiftUpSql(31) + InsertSql(junk));
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kInserted) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 31);
}

TEST_F(VerifyTest, RAud2EntryAppendedAfterTheHeadIsNamedInserted) {
  Tamper(InsertSql(Forge(Entry(kEntries), kEntries + 1)));
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kInserted) << report.detail;
  EXPECT_EQ(report.first_bad_seq, kEntries + 1);
}

TEST_F(VerifyTest, RAud2SwappedEntriesAreNamedReordered) {
  Tamper(
      "UPDATE audit_entries SET seq = -12 WHERE seq = 12;"
      "UPDATE audit_entries SET seq = 12 WHERE seq = 13;"
      "UPDATE audit_entries SET seq = 13 WHERE seq = -12;");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kReordered) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 12);
}

TEST_F(VerifyTest, RAud2TruncatedTailIsNamed) {
  Tamper("DELETE FROM audit_entries WHERE seq > 45;");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kTruncated) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 46);
}

TEST_F(VerifyTest, RAud2TruncatedTailWithCheckpointsRemovedIsStillNamed) {
  // The attacker also removes the checkpoints past the cut; the MACed head
  // still says where the log ended.
  Tamper(
      "DELETE FROM audit_entries WHERE seq > 45;"
      "DELETE FROM audit_checkpoints WHERE seq > 45;");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kTruncated) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 46);
}

TEST_F(VerifyTest, RAud2TruncationWithAMovedHeadIsAForgedHead) {
  const store::AuditEntryRow last = Entry(45);
  Tamper(
      "DELETE FROM audit_entries WHERE seq > 45;"
      "DELETE FROM audit_checkpoints WHERE seq > 45;"
      "UPDATE audit_head SET seq = 45, hash = " +
      HexBlob(last.hash) + ";");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kForgedCheckpoint) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 45);
}

TEST_F(VerifyTest, RAud2ForgedCheckpointIsNamed) {
  Tamper("UPDATE audit_checkpoints SET hash = zeroblob(32) WHERE seq = 20;");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kForgedCheckpoint) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 20);
}

TEST_F(VerifyTest, RAud2CheckpointWithAnUnknownKeyVersionIsForged) {
  Tamper(
      "INSERT INTO audit_checkpoints VALUES (5, zeroblob(32), 0, 'periodic', 9, "
      "zeroblob(32));");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kForgedCheckpoint) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 5);
}

TEST_F(VerifyTest, RAud2RecomputedChainIsCaughtByTheNextCheckpoint) {
  // The attacker edits entry 14 and recomputes every hash after it, so the
  // chain itself is consistent; the checkpoint at 20 (MACed) is not.
  std::string sql;
  ChainHasher hasher;
  std::string prev = Entry(13).hash;
  for (int64_t seq = 14; seq <= kEntries; ++seq) {
    store::AuditEntryRow row = Entry(seq);
    if (seq == 14) row.actor_id = "nobody";
    row.prev_hash = prev;
    row.hash = std::string(crypto::DigestView(hasher.Hash(prev, ViewOf(row))));
    prev = row.hash;
    sql += "DELETE FROM audit_entries WHERE seq = " + std::to_string(seq) + ";" + InsertSql(row);
  }
  Tamper(sql);
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kEdited) << report.detail;
  EXPECT_EQ(report.first_bad_seq, 11);  // somewhere after the last good checkpoint (10)
  EXPECT_NE(report.detail.find("20"), std::string::npos);
}

TEST_F(VerifyTest, RAud2MissingHeadIsReported) {
  Tamper("DELETE FROM audit_head;");
  const VerifyReport report = Verify();
  EXPECT_EQ(report.damage, Damage::kForgedCheckpoint) << report.detail;
}

TEST_F(VerifyTest, ProgressIsReportedForLongRuns) {
  auto store = store::sqlite::SqliteAuditStore::Open({.path = DbPath()});
  int calls = 0;
  auto report = VerifyChain(**store, *keyring_, [&calls](int64_t) { ++calls; });
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(calls, 0);  // 50 entries: fewer than kVerifyProgressEvery
  EXPECT_TRUE(report->intact());
}

TEST_F(VerifyTest, EmptyLogIsIntact) {
  std::filesystem::remove(DbPath());
  std::filesystem::remove(DbPath() + "-wal");
  std::filesystem::remove(DbPath() + "-shm");
  const VerifyReport report = Verify();
  EXPECT_TRUE(report.intact()) << report.detail;
  EXPECT_EQ(report.entries_checked, 0);
}

}  // namespace
}  // namespace custvault::audit
