// Tests of the record encoding inside incremental pieces.
#include "backup/records.h"

#include <gtest/gtest.h>

namespace custvault::backup {
namespace {

std::string SampleStream() {
  std::string out;
  AppendJournalRecord(7, 1000, std::string("P\x01\x01t\x00", 5), &out);
  store::AuditEntryRow entry;
  entry.seq = 3;
  entry.time_us = 99;
  entry.actor_id = "u1";
  entry.operation = "customer.view";
  entry.details = "{}";
  entry.prev_hash = std::string(32, '\0');
  entry.hash = std::string(32, '\x7f');
  AppendEntryRecord(store::AuditEntryView{entry.seq, entry.time_us, entry.actor_id, entry.actor_role,
                                          entry.source_ip, entry.operation, entry.customer_id,
                                          entry.result, entry.details, entry.prev_hash, entry.hash},
                    &out);
  AppendCheckpointRecord(5, {3, std::string(32, 'h'), 99, "periodic", 1, std::string(32, 'm')}, &out);
  AppendHeadRecord({3, std::string(32, 'h'), 99, 1, std::string(32, 'm')}, &out);
  AppendAlertRecord({4, "bulk_access", "u1", 98, "summary", "", 0}, &out);
  AppendLoginIpRecord({"u1", "10.0.0.1"}, &out);
  return out;
}

TEST(RecordsTest, DecodesEveryTypeWhateverTheChunkBoundaries) {
  const std::string stream = SampleStream();
  for (size_t step : {size_t{1}, size_t{3}, size_t{17}, stream.size()}) {
    RecordDecoder decoder("test");
    std::vector<Record> records;
    for (size_t at = 0; at < stream.size(); at += step) {
      ASSERT_TRUE(decoder
                      .Feed(std::string_view(stream).substr(at, step),
                            [&](Record&& r) {
                              records.push_back(std::move(r));
                              return Status::Ok();
                            })
                      .ok());
    }
    ASSERT_TRUE(decoder.Finish().ok());
    ASSERT_EQ(records.size(), 6u) << step;
    const auto& journal = std::get<JournalRecord>(records[0]);
    EXPECT_EQ(journal.seq, 7);
    EXPECT_EQ(journal.committed_at_us, 1000);
    EXPECT_EQ(journal.patchset, std::string("P\x01\x01t\x00", 5));
    EXPECT_EQ(std::get<store::AuditEntryRow>(records[1]).hash, std::string(32, '\x7f'));
    EXPECT_EQ(std::get<CheckpointRecord>(records[2]).rowid, 5);
    EXPECT_EQ(std::get<CheckpointRecord>(records[2]).row.kind, "periodic");
    EXPECT_EQ(std::get<store::AuditHeadRow>(records[3]).seq, 3);
    EXPECT_EQ(std::get<store::AlertRow>(records[4]).rule, "bulk_access");
    EXPECT_EQ(std::get<store::LoginIpRow>(records[5]).source_ip, "10.0.0.1");
  }
}

TEST(RecordsTest, AStreamEndingInsideARecordIsRefused) {
  const std::string stream = SampleStream();
  RecordDecoder decoder("backup B: piece audit");
  ASSERT_TRUE(decoder.Feed(std::string_view(stream).substr(0, stream.size() - 3),
                           [](Record&&) { return Status::Ok(); })
                  .ok());
  const Status finished = decoder.Finish();
  EXPECT_EQ(finished.code(), ErrorCode::kDataLoss);
  EXPECT_NE(finished.message().find("backup B: piece audit"), std::string::npos);
}

TEST(RecordsTest, UnknownTypesAndHugeFieldsAreRefused) {
  RecordDecoder decoder("p");
  EXPECT_EQ(decoder.Feed("Z", [](Record&&) { return Status::Ok(); }).code(), ErrorCode::kDataLoss);
  RecordDecoder huge("p");
  const std::string record = std::string("L") + "\xff\xff\xff\xff";
  EXPECT_EQ(huge.Feed(record, [](Record&&) { return Status::Ok(); }).code(), ErrorCode::kDataLoss);
}

}  // namespace
}  // namespace custvault::backup
