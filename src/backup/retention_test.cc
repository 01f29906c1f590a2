// R-BAK-1: retention keeps N full chains per location and never deletes a
// piece that a kept backup still needs.
#include "backup/retention.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace custvault::backup {
namespace {

RetentionPiece Full(std::string id, int64_t at, int64_t journal_seq = 0) {
  return {std::move(id), PieceKind::kFull, "", at, journal_seq};
}
RetentionPiece Incr(std::string id, std::string base, int64_t at, int64_t journal_seq = 0) {
  return {std::move(id), PieceKind::kIncremental, std::move(base), at, journal_seq};
}
bool Has(const std::vector<std::string>& list, const std::string& id) {
  return std::find(list.begin(), list.end(), id) != list.end();
}

TEST(RetentionTest, KeepsNewestFullChainsWithTheirIncrementals) {
  const std::vector<RetentionPiece> pieces = {
      Full("f1", 100), Incr("i1a", "f1", 110), Incr("i1b", "i1a", 120),
      Full("f2", 200), Incr("i2a", "f2", 210),
      Full("f3", 300), Incr("i3a", "f3", 310), Incr("i3b", "i3a", 320),
  };
  const RetentionPlan plan = PlanRetention(pieces, 2);
  EXPECT_EQ(plan.remove, (std::vector<std::string>{"f1", "i1a", "i1b"}));
  EXPECT_EQ(plan.keep, (std::vector<std::string>{"f2", "i2a", "f3", "i3a", "i3b"}));
}

TEST(RetentionTest, NeverDeletesTheNewestFullChainEvenWithKeepZero) {
  const std::vector<RetentionPiece> pieces = {Full("f1", 100), Full("f2", 200),
                                              Incr("i2a", "f2", 210)};
  for (int keep : {0, -3, 1}) {
    const RetentionPlan plan = PlanRetention(pieces, keep);
    EXPECT_EQ(plan.keep, (std::vector<std::string>{"f2", "i2a"})) << keep;
    EXPECT_EQ(plan.remove, (std::vector<std::string>{"f1"})) << keep;
  }
}

TEST(RetentionTest, NeverDeletesABaseThatAKeptIncrementalDependsOn) {
  // An incremental taken after f2 but based on the f1 chain (e.g. the
  // full f2 was written by hand): f1's chain must stay whole while it is
  // kept; with keep_full=1 the whole f1 chain goes, never half of it.
  const std::vector<RetentionPiece> pieces = {
      Full("f1", 100), Incr("i1a", "f1", 110), Full("f2", 200), Incr("i1b", "i1a", 250)};
  const RetentionPlan two = PlanRetention(pieces, 2);
  EXPECT_TRUE(two.remove.empty());
  const RetentionPlan one = PlanRetention(pieces, 1);
  EXPECT_EQ(one.remove, (std::vector<std::string>{"f1", "i1a", "i1b"}));
  // Whatever is kept, its whole base chain is kept too.
  for (const RetentionPlan* plan : {&two, &one}) {
    for (const RetentionPiece& piece : pieces) {
      if (!Has(plan->keep, piece.id) || piece.kind == PieceKind::kFull) continue;
      EXPECT_TRUE(Has(plan->keep, piece.base_id)) << piece.id << " kept without its base";
    }
  }
}

TEST(RetentionTest, OrphanIncrementalsGoOnlyWhenOlderThanTheOldestKeptFull) {
  const std::vector<RetentionPiece> pieces = {
      Incr("old-orphan", "gone", 50), Incr("old-orphan-child", "old-orphan", 60),
      Full("f1", 100), Full("f2", 200),
      Incr("new-orphan", "in-transit", 250), Incr("new-orphan-child", "new-orphan", 260)};
  const RetentionPlan plan = PlanRetention(pieces, 2);
  EXPECT_EQ(plan.remove, (std::vector<std::string>{"old-orphan", "old-orphan-child"}));
  EXPECT_TRUE(Has(plan.keep, "new-orphan"));
  EXPECT_TRUE(Has(plan.keep, "new-orphan-child"));
  EXPECT_TRUE(Has(plan.orphans_kept, "new-orphan"));
}

TEST(RetentionTest, ALoopInBaseLinksIsAnOrphanNotAHang) {
  const std::vector<RetentionPiece> pieces = {Full("f1", 100), Incr("a", "b", 150),
                                              Incr("b", "a", 160)};
  const RetentionPlan plan = PlanRetention(pieces, 1);
  EXPECT_TRUE(Has(plan.keep, "a"));
  EXPECT_TRUE(Has(plan.keep, "b"));
  EXPECT_TRUE(plan.remove.empty());
}

TEST(RetentionTest, OnlyIncrementalsAndNoFullKeepsEverything) {
  const std::vector<RetentionPiece> pieces = {Incr("a", "gone", 10), Incr("b", "a", 20)};
  const RetentionPlan plan = PlanRetention(pieces, 1, {{"seg-1", 1, 5}});
  EXPECT_TRUE(plan.remove.empty());
  EXPECT_TRUE(plan.remove_segments.empty());
}

TEST(RetentionTest, ShippedSegmentsGoOnlyWhenNoKeptChainNeedsThem) {
  const std::vector<RetentionPiece> pieces = {Full("f1", 100, 40), Full("f2", 200, 90),
                                              Full("f3", 300, 150)};
  const std::vector<RetentionSegment> segments = {
      {"s1", 1, 39}, {"s2", 40, 89}, {"s3", 90, 120}, {"s4", 121, 160}};
  // Keeping f2 and f3: everything up to f2's position (90) is inside f2.
  const RetentionPlan plan = PlanRetention(pieces, 2, segments);
  EXPECT_EQ(plan.remove_segments, (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(plan.remove, (std::vector<std::string>{"f1"}));
}

TEST(RetentionTest, SegmentsInsideKeptIncrementalsGoTheRestStay) {
  // f1 at 100; i1 covers 101..200, i2 201..260; f2 at 300.
  const std::vector<RetentionPiece> pieces = {Full("f1", 10, 100), Incr("i1", "f1", 20, 200),
                                              Incr("i2", "i1", 30, 260), Full("f2", 40, 300)};
  const std::vector<RetentionSegment> segments = {
      {"before-f1", 50, 100}, {"straddles-f1", 90, 150}, {"in-i1", 120, 199},
      {"across-i1-i2", 190, 230}, {"after-i2", 240, 280}, {"after-f2", 301, 320}};
  const RetentionPlan plan = PlanRetention(pieces, 2, segments);
  EXPECT_EQ(plan.remove_segments,
            (std::vector<std::string>{"before-f1", "straddles-f1", "in-i1", "across-i1-i2"}));
}

TEST(RetentionTest, SegmentsGoOnlyAsAnUnbrokenOldestRun) {
  // 201..300 is needed (no incremental of f2's chain covers it... it is
  // before f2 and after i1); 301..400 is covered by i2 but stays behind it.
  const std::vector<RetentionPiece> pieces = {Full("f1", 10, 100), Incr("i1", "f1", 20, 200),
                                              Full("f2", 30, 300), Incr("i2", "f2", 40, 400)};
  const std::vector<RetentionSegment> segments = {
      {"s3", 301, 400}, {"s1", 101, 200}, {"s2", 201, 300}, {"s4", 401, 450}};
  const RetentionPlan plan = PlanRetention(pieces, 2, segments);
  EXPECT_EQ(plan.remove_segments, (std::vector<std::string>{"s1"}));
}

// A backup's own audit entry (backup.run) and the off-site copy's
// (backup.ship) come after its snapshot: the segment that ships them holds
// no journal row the backup lacks, but audit entries it lacks. Removing it
// would break the shipped sequence right after the backup (seen in the
// API test: the restore stopped at the missing entries).
TEST(RetentionTest, SegmentsWithAuditEntriesAfterTheKeptFullStay) {
  RetentionPiece full = Full("f1", 10, 60);
  full.audit_seq = 49;
  const std::vector<RetentionSegment> segments = {
      {"journal-and-audit-before", 1, 60, 1, 45},
      {"audit-straddles", 55, 60, 46, 51},  // rows the full has, entries 50-51 it lacks
      {"after", 61, 70, 52, 60}};
  const RetentionPlan plan = PlanRetention({full}, 1, segments);
  EXPECT_EQ(plan.remove_segments, (std::vector<std::string>{"journal-and-audit-before"}));

  // Once an incremental of the kept chain holds those entries, it may go.
  RetentionPiece incr = Incr("i1", "f1", 20, 60);
  incr.audit_seq = 51;
  const RetentionPlan later = PlanRetention({full, incr}, 1, segments);
  EXPECT_EQ(later.remove_segments,
            (std::vector<std::string>{"journal-and-audit-before", "audit-straddles"}));
}

TEST(RetentionTest, EmptyLocationPlansNothing) {
  const RetentionPlan plan = PlanRetention({}, 4);
  EXPECT_TRUE(plan.keep.empty());
  EXPECT_TRUE(plan.remove.empty());
}

}  // namespace
}  // namespace custvault::backup
