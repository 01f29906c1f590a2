// Tests of the manifest and the chunk binding (R-BAK-1, R-BAK-3).
#include "backup/archive.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/fake_env.h"

namespace custvault::backup {
namespace {

namespace fs = std::filesystem;

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_archive_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Result<std::unique_ptr<crypto::Keyring>> keyring = crypto::Keyring::Open(
        &env_, dir_ + "/master.key", crypto::CryptoProfile::kDefault, /*create_if_missing=*/true);
    ASSERT_TRUE(keyring.ok()) << keyring.status().ToString();
    keyring_ = std::move(*keyring);
    Result<crypto::WrappedKey> key = keyring_->CreateDomainKey(kBackupKeyPurpose, 1);
    ASSERT_TRUE(key.ok());
    backup_key_ = *key;
  }
  void TearDown() override { fs::remove_all(dir_); }

  Manifest Sample() const {
    Manifest m;
    m.id = "20261129T030000Z-incr-0a1b2c3d";
    m.kind = BackupKind::kIncremental;
    m.created_at_us = 1'796'000'000'000'000;
    m.base_id = "20261122T030000Z-full-00ff00ff";
    m.previous_id = "20261128T230000Z-incr-12345678";
    m.previous_manifest_sm3 = std::string(32, '\x42');
    m.schema_version = 6;
    m.backup_key = backup_key_;
    m.archive_key = "sealed-archive-key";
    m.journal_after_seq = 10;
    m.journal_to_seq = 20;
    m.point_us = 1'795'999'000'000'000;
    m.audit_after_seq = 5;
    m.audit_to_seq = 9;
    m.journal_rows = 10;
    m.audit_entries = 4;
    PieceInfo piece;
    piece.name = kPieceJournal;
    piece.file = std::string(kPieceJournal) + kPieceFileSuffix;
    piece.chunks.push_back({std::string(32, 's'), 100, 300});
    piece.raw_bytes = 300;
    piece.stored_bytes = static_cast<int64_t>(kStreamHeaderBytes) + 4 + 100;
    m.pieces.push_back(piece);
    return m;
  }

  FakeEnv env_;
  std::string dir_;
  std::unique_ptr<crypto::Keyring> keyring_;
  crypto::WrappedKey backup_key_;
};

TEST_F(ArchiveTest, ManifestRoundTripsAndItsMacVerifies) {
  Result<std::string> file = SealManifest(Sample(), *keyring_);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(std::count(file->begin(), file->end(), '\n'), 2);
  EXPECT_TRUE(VerifyManifestMac(*file, *keyring_).ok());
  Result<Manifest> parsed = ParseManifest(*file);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const Manifest expected = Sample();
  EXPECT_EQ(parsed->id, expected.id);
  EXPECT_EQ(parsed->kind, BackupKind::kIncremental);
  EXPECT_EQ(parsed->previous_manifest_sm3, expected.previous_manifest_sm3);
  EXPECT_EQ(parsed->journal_to_seq, 20);
  EXPECT_EQ(parsed->point_us, expected.point_us);
  EXPECT_EQ(parsed->backup_key.wrapped, backup_key_.wrapped);
  ASSERT_EQ(parsed->pieces.size(), 1u);
  EXPECT_EQ(parsed->pieces[0].chunks[0].sm3, std::string(32, 's'));
}

TEST_F(ArchiveTest, R_BAK_3_AnyEditOfTheManifestFailsItsMac) {
  Result<std::string> file = SealManifest(Sample(), *keyring_);
  ASSERT_TRUE(file.ok());
  std::string edited = *file;
  const size_t at = edited.find("\"to_seq\":20");
  ASSERT_NE(at, std::string::npos);
  edited.replace(at, 11, "\"to_seq\":21");
  EXPECT_TRUE(ParseManifest(edited).ok());  // still well-formed...
  EXPECT_EQ(VerifyManifestMac(edited, *keyring_).code(), ErrorCode::kDataLoss);  // ...not genuine
}

TEST_F(ArchiveTest, MalformedManifestsNameTheField) {
  Result<std::string> file = SealManifest(Sample(), *keyring_);
  ASSERT_TRUE(file.ok());
  std::string bad = *file;
  bad.replace(bad.find("\"kind\":\"incremental\""), 20, "\"kind\":\"monthly\"    ");
  Result<Manifest> parsed = ParseManifest(bad);
  ASSERT_EQ(parsed.status().code(), ErrorCode::kDataLoss);
  EXPECT_NE(parsed.status().message().find("\"kind\""), std::string::npos);
  EXPECT_EQ(ParseManifest("not json\n{}\n").status().code(), ErrorCode::kDataLoss);
  EXPECT_EQ(ParseManifest(file->substr(0, file->find('\n') + 1)).status().code(),
            ErrorCode::kDataLoss);  // no MAC line
}

TEST_F(ArchiveTest, ChunkBindingDiffersForEveryPlace) {
  const std::string base = ChunkAad("20261129T030000Z-full-0a1b2c3d", "journal", 1, false);
  EXPECT_NE(base, ChunkAad("20261129T030000Z-full-0a1b2c3e", "journal", 1, false));
  EXPECT_NE(base, ChunkAad("20261129T030000Z-full-0a1b2c3d", "audit", 1, false));
  EXPECT_NE(base, ChunkAad("20261129T030000Z-full-0a1b2c3d", "journal", 2, false));
  EXPECT_NE(base, ChunkAad("20261129T030000Z-full-0a1b2c3d", "journal", 1, true));
  EXPECT_NE(ChunkNonce(0, 1), ChunkNonce(1, 1));
  EXPECT_NE(ChunkNonce(0, 1), ChunkNonce(0, 2));
}

TEST_F(ArchiveTest, BackupIdsSortByTimeAndRefusePaths) {
  const std::string id = MakeBackupId(1'796'000'000'000'000, BackupKind::kFull, "0a1b2c3d");
  EXPECT_TRUE(IsValidBackupId(id)) << id;
  EXPECT_LT(id, MakeBackupId(1'796'000'001'000'000, BackupKind::kFull, "00000000"));
  EXPECT_FALSE(IsValidBackupId("../etc"));
  EXPECT_FALSE(IsValidBackupId("20261129T030000Z-full-0a1b2c3d/.."));
  EXPECT_FALSE(IsValidBackupId("20261129T030000Z-weekly-0a1b2c3d"));
}

}  // namespace
}  // namespace custvault::backup
