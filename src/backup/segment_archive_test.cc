// R-BAK-2a, R-BAK-3: shipped segments are stored like backups (encrypted,
// hashed, MACed), read back exactly, and any damage is refused naming the
// segment; the shipper over the real format resumes without a gap.
#include "backup/segment_archive.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "backup/archive.h"
#include "backup/backup_engine.h"
#include "common/fake_env.h"

namespace custvault::backup {
namespace {

namespace fs = std::filesystem;

class SegmentArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("cv_segarch_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    auto keyring = crypto::Keyring::Open(&env_, (root_ / "master.key").string(),
                                         crypto::CryptoProfile::kDefault, true);
    ASSERT_TRUE(keyring.ok());
    keyring_ = std::move(*keyring);
    auto backup_key = keyring_->CreateDomainKey("backup", 1);
    ASSERT_TRUE(backup_key.ok());
    backup_key_ = *backup_key;
    format_ = std::make_unique<ArchiveSegmentFormat>(&env_, *keyring_, backup_key_,
                                                     SegmentArchiveOptions{.schema_version = 6});
    dir_ = (root_ / ".shipped").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  ShippedSegment Segment(int64_t journal_from, int64_t journal_to, int64_t audit_from,
                         int64_t audit_to) {
    ShippedSegment s;
    s.journal_from_seq = journal_from;
    s.journal_to_seq = journal_to;
    for (int64_t seq = journal_from; seq <= journal_to; ++seq) {
      s.journal.push_back({seq, 1'000'000 * seq, "patchset bytes " + std::to_string(seq)});
    }
    s.audit_from_seq = audit_from;
    s.audit_to_seq = audit_to;
    for (int64_t seq = audit_from; seq <= audit_to; ++seq) {
      store::AuditEntryRow row;
      row.seq = seq;
      row.time_us = 2'000'000 * seq;
      row.actor_id = "u1";
      row.operation = "customer.create";
      row.result = "ok";
      row.details = "{}";
      row.prev_hash = std::string(32, 'p');
      row.hash = std::string(32, 'h');
      s.audit_entries.push_back(row);
    }
    if (audit_to >= audit_from) {
      s.audit_checkpoints.push_back({audit_to, std::string(32, 'h'), 5, "periodic", 1,
                                     std::string(32, 'm')});
      s.audit_head = store::AuditHeadRow{audit_to, std::string(32, 'h'), 7, 1, std::string(32, 'm')};
    }
    s.created_at_us = env_.NowMicros();
    return s;
  }

  std::string PieceFile(const std::string& name, const char* piece) {
    return dir_ + "/" + name + "/" + piece + kPieceFileSuffix;
  }

  FakeEnv env_;
  fs::path root_;
  std::unique_ptr<crypto::Keyring> keyring_;
  crypto::WrappedKey backup_key_;
  std::unique_ptr<ArchiveSegmentFormat> format_;
  std::string dir_;
};

TEST_F(SegmentArchiveTest, WritesListsAndReadsBackExactly) {
  ShippedSegment first = Segment(1, 3, 1, 2);
  first.new_chain = true;
  auto written = format_->Write(dir_, first);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_TRUE(written->new_chain);
  EXPECT_EQ(written->chain_id, written->name);
  EXPECT_EQ(written->manifest_sm3.size(), 32u);

  ShippedSegment second = Segment(4, 4, 3, 2);  // one row, no audit entry
  second.previous_name = written->name;
  second.previous_manifest_sm3 = written->manifest_sm3;
  second.chain_id = written->chain_id;
  env_.AdvanceMicros(1'000'000);
  second.created_at_us = env_.NowMicros();
  auto written2 = format_->Write(dir_, second);
  ASSERT_TRUE(written2.ok()) << written2.status().ToString();
  EXPECT_FALSE(written2->new_chain);
  EXPECT_EQ(written2->previous_name, written->name);

  auto listed = format_->List(dir_);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, written->name);
  EXPECT_EQ((*listed)[1].journal_from_seq, 4);
  EXPECT_EQ((*listed)[1].audit_to_seq, 2);

  auto read = format_->Read(dir_, written->name);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->journal.size(), 3u);
  EXPECT_EQ(read->journal[2].patchset, "patchset bytes 3");
  EXPECT_EQ(read->journal[1].committed_at_us, 2'000'000);
  ASSERT_EQ(read->audit_entries.size(), 2u);
  EXPECT_EQ(read->audit_entries[1].hash, std::string(32, 'h'));
  ASSERT_EQ(read->audit_checkpoints.size(), 1u);
  ASSERT_TRUE(read->audit_head.has_value());
  EXPECT_EQ(read->audit_head->seq, 2);
  auto read2 = format_->Read(dir_, written2->name);
  ASSERT_TRUE(read2.ok());
  EXPECT_EQ(read2->previous_manifest_sm3, written->manifest_sm3);
  EXPECT_TRUE(read2->audit_entries.empty());
}

TEST_F(SegmentArchiveTest, TheContentIsEncrypted) {
  ShippedSegment s = Segment(1, 2, 1, 1);
  s.new_chain = true;
  s.journal[0].patchset = "VERY-RECOGNISABLE-PATCHSET-BYTES-" + std::string(100, 'Q');
  auto written = format_->Write(dir_, s);
  ASSERT_TRUE(written.ok());
  std::ifstream in(PieceFile(written->name, kPieceJournal), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find("VERY-RECOGNISABLE"), std::string::npos);
}

TEST_F(SegmentArchiveTest, AFlippedBitIsRefusedNamingSegmentAndPiece) {
  ShippedSegment s = Segment(1, 50, 1, 10);
  s.new_chain = true;
  auto written = format_->Write(dir_, s);
  ASSERT_TRUE(written.ok());
  {
    std::fstream file(PieceFile(written->name, kPieceAudit),
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(40);
    char c = 0;
    file.get(c);
    file.seekp(40);
    file.put(static_cast<char>(c ^ 0x01));
  }
  auto read = format_->Read(dir_, written->name);
  EXPECT_EQ(read.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(read.status().message().find(written->name), std::string::npos)
      << read.status().ToString();
  EXPECT_NE(read.status().message().find("audit"), std::string::npos) << read.status().ToString();
}

TEST_F(SegmentArchiveTest, AnEditedManifestFailsItsMac) {
  ShippedSegment s = Segment(1, 2, 1, 1);
  s.new_chain = true;
  auto written = format_->Write(dir_, s);
  ASSERT_TRUE(written.ok());
  const std::string path = dir_ + "/" + written->name + "/" + kManifestFileName;
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const size_t at = text.find("\"to_seq\":2");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 10, "\"to_seq\":3");
  std::ofstream(path, std::ios::trunc) << text;
  auto read = format_->Read(dir_, written->name);
  EXPECT_EQ(read.status().code(), ErrorCode::kDataLoss);
}

TEST_F(SegmentArchiveTest, LeftoversOfACrashAreNeverListedAndAreCleared) {
  fs::create_directories(dir_ + "/" + kPartialPrefix + "20261129T000000Z-seg-00000000");
  fs::create_directories(dir_ + "/.removing-20261129T000000Z-seg-11111111");
  auto listed = format_->List(dir_);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  EXPECT_FALSE(fs::is_empty(dir_)) << "listing changes nothing";
  ASSERT_TRUE(format_->RemoveLeftovers(dir_).ok());
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(SegmentArchiveTest, ASegmentWithoutItsManifestIsNamed) {
  fs::create_directories(dir_ + "/20261129T000000Z-seg-22222222");
  auto listed = format_->List(dir_);
  EXPECT_EQ(listed.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(listed.status().message().find("20261129T000000Z-seg-22222222"), std::string::npos);
}

TEST_F(SegmentArchiveTest, RemoveTakesTheSegmentAway) {
  ShippedSegment s = Segment(1, 1, 1, 0);
  s.new_chain = true;
  auto written = format_->Write(dir_, s);
  ASSERT_TRUE(written.ok());
  ASSERT_TRUE(format_->Remove(dir_, written->name).ok());
  EXPECT_TRUE(format_->List(dir_)->empty());
  EXPECT_FALSE(format_->Remove(dir_, "../etc").ok());
}

}  // namespace
}  // namespace custvault::backup
