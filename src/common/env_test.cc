#include "common/env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/fake_env.h"

namespace custvault {
namespace {

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cv_env_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(Env::Default()->CreateDirectories(dir_.string(), 0700).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(EnvTest, WriteFileAtomicSetsTheExactModeDespiteTheUmask) {
  const std::string path = (dir_ / "secret").string();
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, "abc", 0600, true).ok());
  EXPECT_EQ(Env::Default()->FileMode(path).value(), 0600);
  EXPECT_EQ(Env::Default()->ReadFile(path).value(), "abc");
  EXPECT_FALSE(Env::Default()->FileExists(path + ".tmp"));
}

TEST_F(EnvTest, ExclusiveWriteNeverReplacesAnExistingFile) {
  const std::string path = (dir_ / "once").string();
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, "first", 0600, true).ok());
  const Status again = Env::Default()->WriteFileAtomic(path, "second", 0600, true);
  EXPECT_EQ(again.code(), ErrorCode::kConflict);
  EXPECT_EQ(Env::Default()->ReadFile(path).value(), "first");
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(path, "third", 0644, false).ok());
  EXPECT_EQ(Env::Default()->ReadFile(path).value(), "third");
}

TEST_F(EnvTest, MissingFilesAreNotFound) {
  const std::string path = (dir_ / "absent").string();
  EXPECT_EQ(Env::Default()->ReadFile(path).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(Env::Default()->FileMode(path).status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(Env::Default()->RemoveFile(path).ok());
}

TEST_F(EnvTest, FakeEnvFreezesTimeAndInjectsWriteFailures) {
  FakeEnv env(1'000'000);
  EXPECT_EQ(env.NowMicros(), 1'000'000);
  env.AdvanceMicros(5);
  EXPECT_EQ(env.NowMicros(), 1'000'005);
  env.FailNextWrites(1);
  const std::string path = (dir_ / "f").string();
  EXPECT_FALSE(env.WriteFileAtomic(path, "x", 0600, false).ok());
  EXPECT_FALSE(env.FileExists(path));
  EXPECT_TRUE(env.WriteFileAtomic(path, "x", 0600, false).ok());
}

TEST(TimeFormatTest, FormatsRfc3339AndLocalDates) {
  // 2026-11-29T00:00:00Z = 1795910400.
  const int64_t t = 1'795'910'400LL * 1'000'000 + 250'000;
  EXPECT_EQ(FormatRfc3339(t), "2026-11-29T00:00:00.250000Z");
  EXPECT_EQ(FormatYyyymmdd(t, 0), "20261129");
  // 23:30 UTC on the 28th is already the 29th in China.
  EXPECT_EQ(FormatYyyymmdd(t - 1'800'000'000LL, 28800), "20261129");
  EXPECT_EQ(FormatYyyymmdd(t - 1'800'000'000LL, 0), "20261128");
}

TEST(RandomTest, FillsBuffersWithDifferentBytes) {
  uint8_t a[32] = {}, b[32] = {};
  ASSERT_TRUE(Env::Default()->RandomBytes(a).ok());
  ASSERT_TRUE(Env::Default()->RandomBytes(b).ok());
  EXPECT_NE(std::string(reinterpret_cast<char*>(a), 32),
            std::string(reinterpret_cast<char*>(b), 32));
}

}  // namespace
TEST(ParseRfc3339Test, AcceptsOffsetsAndFractionsAndRefusesTheRest) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2026-11-30T10:00:00+08:00"), int64_t{1'796'004'000} * 1'000'000);
  EXPECT_EQ(ParseRfc3339("2026-11-30T02:00:00.5Z"), int64_t{1'796'004'000} * 1'000'000 + 500'000);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00-01:30"), (int64_t{1'709'164'800} + 5400) * 1'000'000);
  for (const char* bad : {"2026-11-30", "2026-11-30T10:00:00", "2026-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z", "2026-11-30T24:00:00Z", "2026-11-30T10:00:00.Z",
                          "2026-11-30T10:00:00+0800", "2026-11-30T10:00:00Zjunk", ""}) {
    EXPECT_FALSE(ParseRfc3339(bad).has_value()) << bad;
  }
}

}  // namespace custvault
