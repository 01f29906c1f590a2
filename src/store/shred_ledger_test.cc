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

}  // namespace
}  // namespace custvault::store
