// Tests of the shred ledger file (R-CRY-5).
#include "store/shred_ledger.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace custvault::store {
namespace {

namespace fs = std::filesystem;

class ShredLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "cv_ledger_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/shred-ledger";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, path_;
};

TEST_F(ShredLedgerTest, AppendsAndReadsBackPrivately) {
  const std::vector<ShredEntry> first = {{"C1", 10}, {"C2", 20}};
  ASSERT_TRUE(AppendShredLedger(path_, first).ok());
  const std::vector<ShredEntry> second = {{"C3", 30}};
  ASSERT_TRUE(AppendShredLedger(path_, second).ok());
  Result<ShredLedgerContents> read = ReadShredLedger(path_);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->entries, (std::vector<ShredEntry>{{"C1", 10}, {"C2", 20}, {"C3", 30}}));
  EXPECT_EQ(read->bad_lines, 0);
  struct stat info {};
  ASSERT_EQ(::stat(path_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(ShredLedgerTest, TornLastLineIsSkippedAndEndedBeforeTheNextAppend) {
  {
    std::ofstream out(path_);
    out << kShredLedgerHeader << "\nC1 10\nC2 2";  // crash in the middle of a line
  }
  Result<ShredLedgerContents> read = ReadShredLedger(path_);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->entries, (std::vector<ShredEntry>{{"C1", 10}}));
  EXPECT_EQ(read->bad_lines, 1);
  const std::vector<ShredEntry> more = {{"C3", 30}};
  ASSERT_TRUE(AppendShredLedger(path_, more).ok());
  read = ReadShredLedger(path_);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->entries, (std::vector<ShredEntry>{{"C1", 10}, {"C3", 30}}));
  EXPECT_EQ(read->bad_lines, 1);  // the torn "C2 2" line stays bad, nothing else
}

TEST_F(ShredLedgerTest, MergeAppendsOnlyWhatIsMissing) {
  const std::vector<ShredEntry> first = {{"C1", 10}};
  ASSERT_TRUE(AppendShredLedger(path_, first).ok());
  const std::vector<ShredEntry> all = {{"C1", 10}, {"C2", 20}, {"C1", 40}};
  ASSERT_TRUE(MergeShredLedger(path_, all).ok());
  ASSERT_TRUE(MergeShredLedger(path_, all).ok());
  Result<ShredLedgerContents> read = ReadShredLedger(path_);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->entries, (std::vector<ShredEntry>{{"C1", 10}, {"C2", 20}, {"C1", 40}}));
}

TEST_F(ShredLedgerTest, RefusesIdsThatWouldBreakTheLineFormat) {
  const std::vector<ShredEntry> bad = {{"C1 C2", 10}};
  EXPECT_EQ(AppendShredLedger(path_, bad).code(), ErrorCode::kInvalidArgument);
  const std::vector<ShredEntry> empty = {{"", 10}};
  EXPECT_EQ(AppendShredLedger(path_, empty).code(), ErrorCode::kInvalidArgument);
}

TEST_F(ShredLedgerTest, MissingAndForeignFilesAreToldApart) {
  EXPECT_EQ(ReadShredLedger(path_).status().code(), ErrorCode::kNotFound);
  {
    std::ofstream out(path_);
    out << "something else\n";
  }
  EXPECT_EQ(ReadShredLedger(path_).status().code(), ErrorCode::kDataLoss);
}

// Issue 10.2: "@as-of" claims are read back (the newest wins), are not
// entries, and a merge adds one only when it is newer.
TEST_F(ShredLedgerTest, Issue10_2_AsOfClaimsAreReadAndOnlyEverRaised) {
  const std::vector<ShredEntry> first = {{"C1", 10}};
  ASSERT_TRUE(AppendShredLedger(path_, first, 100).ok());
  ASSERT_TRUE(MergeShredLedger(path_, first, 50).ok());  // older: no new line
  Result<ShredLedgerContents> read = ReadShredLedger(path_);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->entries, first);
  EXPECT_EQ(read->as_of_us, 100);
  EXPECT_EQ(read->bad_lines, 0);
  const std::vector<ShredEntry> none;
  ASSERT_TRUE(MergeShredLedger(path_, none, 200).ok());
  read = ReadShredLedger(path_);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->as_of_us, 200);
  EXPECT_EQ(read->entries, first);
}

// Issue 10.2: every copy gets every delete; a copy that could not be
// written is reported by its place (no path) and caught up with every
// entry at the next append.
TEST_F(ShredLedgerTest, Issue10_2_ALedgerSetReachesEveryCopyAndCatchesUpABehindOne) {
  const std::string local = dir_ + "/backups";    // created when missing
  const std::string offsite = dir_ + "/offsite";  // never created
  ShredLedgerSet set({{"data directory", path_},
                      {"local backup location", local + "/shred-ledger", true},
                      {"off-site location", offsite + "/shred-ledger", false}});
  std::vector<ShredEntry> table = {{"C1", 10}};
  Status first = set.Append(table, 11, [&] { return Result<std::vector<ShredEntry>>(table); });
  ASSERT_EQ(first.code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(IsShredLedgerBehind(first));
  EXPECT_NE(first.message().find("off-site location"), std::string::npos) << first.message();
  EXPECT_EQ(first.message().find(dir_), std::string::npos) << first.message();
  EXPECT_FALSE(fs::exists(offsite));
  EXPECT_TRUE(set.behind());
  for (const std::string& path : {path_, local + "/shred-ledger"}) {
    Result<ShredLedgerContents> read = ReadShredLedger(path);
    ASSERT_TRUE(read.ok()) << path;
    EXPECT_EQ(read->entries, table);
    EXPECT_EQ(read->as_of_us, 11);
  }
  // The off-site file system is back: the next delete brings it up to date.
  fs::create_directory(offsite);
  table.push_back({"C2", 20});
  const std::vector<ShredEntry> second = {{"C2", 20}};
  ASSERT_TRUE(set.Append(second, 21, [&] { return Result<std::vector<ShredEntry>>(table); }).ok());
  EXPECT_FALSE(set.behind());
  for (const std::string& path : {path_, local + "/shred-ledger", offsite + "/shred-ledger"}) {
    Result<ShredLedgerContents> read = ReadShredLedger(path);
    ASSERT_TRUE(read.ok()) << path;
    EXPECT_EQ(read->entries, table) << path;
    EXPECT_EQ(read->as_of_us, 21) << path;
  }
}

}  // namespace
}  // namespace custvault::store
