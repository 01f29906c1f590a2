// R-BAK-1: finished backups are copied off-site, verified there before they
// get their names, and retention keeps N full chains in each location.
// The archive format is a small fake here (a manifest naming each data
// file's SM3): the copier only moves files and asks the format to verify.
#include "backup/offsite.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/encoding.h"
#include "common/fake_env.h"
#include "crypto/hash.h"

namespace custvault::backup {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Sm3Hex(std::string_view data) {
  const crypto::Digest32 digest = crypto::Sm3(data);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

// A backup is <id>/chunk-N and <id>/manifest.json; the manifest names the
// chunks with their SM3 and says the kind, base and time.
class FakeFormat final : public BackupLocationFormat {
 public:
  Result<std::vector<LocatedBackup>> List(const std::string& location) override {
    if (!fs::exists(location)) return NotFound("no directory " + location);
    std::vector<LocatedBackup> out;
    for (const auto& entry : fs::directory_iterator(location)) {
      const std::string name = entry.path().filename().string();
      if (!entry.is_directory() || name.front() == '.') continue;
      const std::string manifest_path = entry.path().string() + "/manifest.json";
      if (!fs::exists(manifest_path)) continue;  // unfinished: not listed
      const json::value manifest = json::parse(ReadAll(manifest_path));
      LocatedBackup backup;
      backup.piece.id = name;
      backup.piece.kind =
          manifest.at("kind").as_string() == "full" ? PieceKind::kFull : PieceKind::kIncremental;
      backup.piece.base_id = std::string(manifest.at("base").as_string());
      backup.piece.created_at_us = manifest.at("time").as_int64();
      for (const auto& [chunk, digest] : manifest.at("chunks").as_object()) {
        backup.files.push_back(name + "/" + std::string(chunk));
      }
      backup.files.push_back(name + "/manifest.json");
      out.push_back(std::move(backup));
    }
    return out;
  }
  Status Verify(const std::string& location, const std::string& id) override {
    ++verifications;
    const std::string dir = location + "/" + id;
    const json::value manifest = json::parse(ReadAll(dir + "/manifest.json"));
    for (const auto& [chunk, digest] : manifest.at("chunks").as_object()) {
      if (Sm3Hex(ReadAll(dir + "/" + std::string(chunk))) != digest.as_string()) {
        return DataLoss(id + "/" + std::string(chunk) + ": SM3 does not match the manifest");
      }
    }
    return Status::Ok();
  }
  int verifications = 0;
};

class OffsiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("cv_offsite_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    local_ = (root_ / "local").string();
    offsite_ = (root_ / "offsite").string();
    fs::create_directories(local_);
    fs::create_directories(offsite_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void MakeBackup(const std::string& id, const std::string& kind, const std::string& base,
                  int64_t time, int chunks = 3) {
    const std::string dir = local_ + "/" + id;
    fs::create_directories(dir);
    json::object digests;
    for (int i = 0; i < chunks; ++i) {
      const std::string name = "chunk-" + std::to_string(i);
      const std::string data(100'000 + i * 777, static_cast<char>('a' + i));
      std::ofstream(dir + "/" + name, std::ios::binary) << data;
      digests[name] = Sm3Hex(data);
    }
    json::object manifest{{"kind", kind}, {"base", base}, {"time", time}, {"chunks", digests}};
    std::ofstream(dir + "/manifest.json") << json::serialize(manifest);
  }

  OffsiteCopier Copier() { return OffsiteCopier(&env_, format_, local_, offsite_); }

  FakeEnv env_;
  FakeFormat format_;
  fs::path root_;
  std::string local_, offsite_;
};

TEST_F(OffsiteTest, CopiesEveryMissingBackupVerifiedAndByteForByte) {
  MakeBackup("full-1", "full", "", 100);
  MakeBackup("incr-2", "incremental", "full-1", 200, 2);
  OffsiteCopier copier = Copier();
  auto report = copier.CopyMissing();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok());
  ASSERT_EQ(report->copied.size(), 2u);
  EXPECT_EQ(report->copied[0].id, "full-1");  // the base first
  EXPECT_EQ(format_.verifications, 2);
  for (const char* file : {"full-1/chunk-0", "full-1/chunk-2", "full-1/manifest.json",
                           "incr-2/chunk-1", "incr-2/manifest.json"}) {
    EXPECT_EQ(ReadAll(offsite_ + "/" + file), ReadAll(local_ + "/" + file)) << file;
  }
  EXPECT_FALSE(fs::exists(offsite_ + "/" + kIncomingDirName));
  // A second run copies nothing.
  report = copier.CopyMissing();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->copied.empty());
  EXPECT_EQ(report->already_offsite.size(), 2u);
}

TEST_F(OffsiteTest, ACopyDamagedOnTheWayIsDetectedAndNeverGetsItsName) {
  MakeBackup("full-1", "full", "", 100);
  OffsiteCopier copier = Copier();
  copier.SetAfterCopyHook([](const std::string& path) {
    if (path.find("chunk-1") == std::string::npos) return;
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(5000);
    file.put('\x01');  // one flipped byte, as a flaky mount would
  });
  auto report = copier.CopyMissing();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->copied.size(), 1u);
  EXPECT_FALSE(report->ok());
  EXPECT_NE(report->copied[0].error.find("off-site copy of full-1 does not verify"),
            std::string::npos)
      << report->copied[0].error;
  EXPECT_NE(report->copied[0].error.find("chunk-1"), std::string::npos);
  // Nothing under the backup's name, nothing half-copied left.
  EXPECT_FALSE(fs::exists(offsite_ + "/full-1"));
  EXPECT_FALSE(fs::exists(offsite_ + "/" + kIncomingDirName));
  auto listed = format_.List(offsite_);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  // The next run (a sound mount again) copies it.
  copier.SetAfterCopyHook({});
  report = copier.CopyMissing();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
  EXPECT_TRUE(format_.Verify(offsite_, "full-1").ok());
}

TEST_F(OffsiteTest, AHalfCopiedLeftoverFromACrashIsClearedAndRedone) {
  MakeBackup("full-1", "full", "", 100);
  fs::create_directories(offsite_ + "/" + kIncomingDirName + "/full-1");
  std::ofstream(offsite_ + "/" + kIncomingDirName + "/full-1/chunk-0") << "torn";
  // A data file already renamed but no manifest yet: not listed, so copied again.
  fs::create_directories(offsite_ + "/full-1");
  std::ofstream(offsite_ + "/full-1/chunk-0") << "stale";
  auto report = Copier().CopyMissing();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
  EXPECT_TRUE(format_.Verify(offsite_, "full-1").ok());
  EXPECT_FALSE(fs::exists(offsite_ + "/" + kIncomingDirName));
}

TEST_F(OffsiteTest, OnlyOneBackupWhenAsked) {
  MakeBackup("full-1", "full", "", 100);
  MakeBackup("full-2", "full", "", 200);
  auto report = Copier().CopyMissing("full-2");
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->copied.size(), 1u);
  EXPECT_EQ(report->copied[0].id, "full-2");
  EXPECT_EQ(Copier().CopyMissing("nope").status().code(), ErrorCode::kNotFound);
}

TEST_F(OffsiteTest, RetentionInBothLocationsKeepsChainsWhole) {
  MakeBackup("full-1", "full", "", 100);
  MakeBackup("incr-1a", "incremental", "full-1", 110);
  MakeBackup("full-2", "full", "", 200);
  MakeBackup("incr-2a", "incremental", "full-2", 210);
  MakeBackup("full-3", "full", "", 300);
  OffsiteCopier copier = Copier();
  ASSERT_TRUE(copier.CopyMissing().ok());
  OffsiteReport report;
  std::vector<std::string> segments_removed;
  ASSERT_TRUE(copier
                  .ApplyRetention(
                      2, &report,
                      [] {
                        return Result<std::vector<RetentionSegment>>(
                            std::vector<RetentionSegment>{{"seg-a", 1, 5}});
                      },
                      [&](const std::string& name) {
                        segments_removed.push_back(name);
                        return Status::Ok();
                      })
                  .ok());
  EXPECT_EQ(report.removed_local, (std::vector<std::string>{"full-1", "incr-1a"}));
  EXPECT_EQ(report.removed_offsite, (std::vector<std::string>{"full-1", "incr-1a"}));
  for (const std::string& location : {local_, offsite_}) {
    EXPECT_FALSE(fs::exists(location + "/full-1")) << location;
    EXPECT_FALSE(fs::exists(location + "/incr-1a")) << location;
    EXPECT_TRUE(format_.Verify(location, "full-2").ok()) << location;
    EXPECT_TRUE(format_.Verify(location, "incr-2a").ok()) << location;
    EXPECT_TRUE(format_.Verify(location, "full-3").ok()) << location;
  }
  // journal positions are 0 in this fake: seg-a (to 5) is after them, kept.
  EXPECT_TRUE(segments_removed.empty());
}

TEST_F(OffsiteTest, AMissingOffsiteDirectoryIsNeverCreated) {
  // An unmounted remote file system: copying under its mount point would
  // fill the local disk and be no off-site copy at all.
  MakeBackup("full-1", "full", "", 100);
  fs::remove_all(offsite_);
  auto report = Copier().CopyMissing();
  EXPECT_EQ(report.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(report.status().message().find("mounted"), std::string::npos);
  EXPECT_FALSE(fs::exists(offsite_));
}

TEST_F(OffsiteTest, CopyFileDurablyCopiesLargeFilesExactly) {
  const std::string from = local_ + "/big";
  std::string data;
  for (int i = 0; i < 3 * (1 << 20) + 12345; ++i) data.push_back(static_cast<char>(i * 131));
  std::ofstream(from, std::ios::binary) << data;
  auto copied = CopyFileDurably(from, local_ + "/big.copy", 0600);
  ASSERT_TRUE(copied.ok());
  EXPECT_EQ(*copied, static_cast<int64_t>(data.size()));
  EXPECT_EQ(ReadAll(local_ + "/big.copy"), data);
  EXPECT_EQ(CopyFileDurably(local_ + "/missing", local_ + "/x", 0600).status().code(),
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace custvault::backup
