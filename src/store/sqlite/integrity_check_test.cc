// R-BAK-2: the restore test's database check finds damage and says "ok"
// only for a sound file.
#include "store/sqlite/integrity_check.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "store/sqlite/connection.h"

namespace custvault::store::sqlite {
namespace {

class IntegrityCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("cv_integrity_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "t.db").string();
    auto connection = Connection::Open({.path = path_});
    ASSERT_TRUE(connection.ok());
    ASSERT_TRUE((*connection)
                    ->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);"
                           "CREATE INDEX t_v ON t(v);"
                           "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                           "WHERE i < 3000) INSERT INTO t SELECT i, printf('value %08d', i) FROM n;",
                           "fill")
                    .ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(IntegrityCheckTest, ASoundDatabaseIsOk) {
  auto result = CheckDatabaseIntegrity(path_);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(*result, "ok");
}

TEST_F(IntegrityCheckTest, ADamagedPageIsReported) {
  // Overwrite the middle of the file (index and table pages) with garbage.
  const auto size = std::filesystem::file_size(path_);
  {
    std::fstream file(path_, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(size / 2));
    const std::string garbage(4096, '\x5a');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  auto result = CheckDatabaseIntegrity(path_);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_NE(*result, "ok");
  EXPECT_FALSE(result->empty());
  EXPECT_LE(result->size(), kIntegrityMessageBytesMax);
}

TEST_F(IntegrityCheckTest, AMissingFileIsNotFoundAndNotCreated) {
  const std::string missing = (dir_ / "missing.db").string();
  EXPECT_EQ(CheckDatabaseIntegrity(missing).status().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(missing));
}

TEST_F(IntegrityCheckTest, AFileThatIsNotADatabaseIsDataLoss) {
  const std::string junk = (dir_ / "junk.db").string();
  { std::ofstream(junk) << std::string(8192, 'x'); }
  auto result = CheckDatabaseIntegrity(junk);
  // Either the open or the check says so; never "ok".
  if (result.ok()) {
    EXPECT_NE(*result, "ok");
  } else {
    EXPECT_EQ(result.status().code(), ErrorCode::kDataLoss) << result.status().ToString();
  }
}

}  // namespace
}  // namespace custvault::store::sqlite
