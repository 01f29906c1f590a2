#include "common/config.h"
#include "common/toml_guard.h"

#include <gtest/gtest.h>

namespace custvault {
namespace {

TEST(ConfigTest, EmptyFileGivesDocumentedDefaults) {
  Result<Config> c = ParseConfig("", "/data", {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.listen, "127.0.0.1:8080");
  EXPECT_EQ(c->crypto.profile, "default");
  EXPECT_EQ(c->catalog.id_number_mask, "first6_last6");
  EXPECT_EQ(c->utc_offset_seconds, 28800);
  EXPECT_EQ(c->DataPath("custvault.db"), "/data/custvault.db");
  EXPECT_EQ(c->DataPath("/abs/key"), "/abs/key");
}

TEST(ConfigTest, TheWrittenDefaultFileParsesToTheDefaults) {
  Result<Config> c = ParseConfig(DefaultConfigToml(), "/d", {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.worker_threads, ServerConfig{}.worker_threads);
  EXPECT_EQ(c->limits.page_size_max, LimitsConfig{}.page_size_max);
}

TEST(ConfigTest, FileValuesAreApplied) {
  Result<Config> c = ParseConfig(
      "[server]\nlisten = \"0.0.0.0:9000\"\nworker_threads = 8\n[crypto]\nprofile = \"gm\"\n", "/d",
      {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.listen, "0.0.0.0:9000");
  EXPECT_EQ(c->server.worker_threads, 8);
  EXPECT_EQ(c->crypto.profile, "gm");
}

TEST(ConfigTest, EnvironmentOverridesTheFile) {
  Result<Config> c = ParseConfig(
      "[server]\nlisten = \"0.0.0.0:9000\"\n", "/d",
      {{"CUSTVAULT_SERVER_LISTEN", "127.0.0.1:7000"}, {"CUSTVAULT_LIMITS_PAGE_SIZE_MAX", "50"}});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server.listen, "127.0.0.1:7000");
  EXPECT_EQ(c->limits.page_size_max, 50);
}

// toml11 3.7 over-reads on non-UTF-8 bytes in a literal string and
// recurses without limit on nested brackets: both are refused before it
// sees the text (common/toml_guard.h).
TEST(ConfigTest, TextTomlCannotParseSafelyIsRefusedFirst) {
  const auto bad_utf8 = ParseConfig("[log]\nlevel = '\x88'\n", "/d", {});
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_NE(bad_utf8.status().message().find("not valid UTF-8"), std::string::npos);
  const auto deep = ParseConfig("x = " + std::string(200000, '['), "/d", {});
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("brackets nest deeper"), std::string::npos);
  EXPECT_TRUE(IsStrictUtf8("信用评级"));
  EXPECT_FALSE(IsStrictUtf8("\xC0\xAF"));      // overlong '/'
  EXPECT_FALSE(IsStrictUtf8("\xED\xA0\x80"));  // a surrogate
}

TEST(ConfigTest, UnknownKeyIsRefusedAndNamed) {
  Result<Config> c = ParseConfig("[server]\nlisen = \"x:1\"\n", "/d", {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("server.lisen"), std::string::npos);
}

// Issue 11.7: a misspelt CUSTVAULT_ variable used to be ignored, leaving
// the allow-list off. Any CUSTVAULT_ name that is no key stops the start.
TEST(ConfigTest, R_CFG_MisspeltEnvironmentVariableIsRefusedAndNamed) {
  for (const std::string name :
       {"CUSTVAULT_AUTH_IP_ALLOW_LIST", "CUSTVAULT_SERVER_LISTN", "CUSTVAULT_LOG",
        "CUSTVAULT_AUTH_IP_ALLOWLIST_"}) {
    SCOPED_TRACE(name);
    Result<Config> c = ParseConfig("", "/d", {{name, "10.0.0.0/8"}});
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(name), std::string::npos) << c.status().message();
  }
  // The right spelling is applied, and the project's own non-config
  // variables (scripts, tests, benchmarks) are let through.
  Result<Config> right = ParseConfig("", "/d", {{"CUSTVAULT_AUTH_IP_ALLOWLIST", "10.0.0.0/8"}});
  ASSERT_TRUE(right.ok()) << right.status().ToString();
  for (std::string_view name : kNonConfigEnvironmentNames) {
    EXPECT_TRUE(ParseConfig("", "/d", {{std::string(name), "x"}}).ok()) << name;
  }
  // Other programs' variables are none of our business.
  EXPECT_TRUE(ParseConfig("", "/d", {{"HOME", "/root"}, {"CUSTVAULTX", "1"}}).ok());
}

TEST(ConfigTest, WrongTypeIsRefusedAndNamed) {
  Result<Config> c = ParseConfig("[server]\nworker_threads = \"four\"\n", "/d", {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("server.worker_threads"), std::string::npos);
}

TEST(ConfigTest, OutOfRangeAndNotAllowedValuesAreRefused) {
  EXPECT_FALSE(ParseConfig("[server]\nworker_threads = 0\n", "/d", {}).ok());
  Result<Config> c = ParseConfig("[crypto]\nprofile = \"des\"\n", "/d", {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("crypto.profile"), std::string::npos);
  Result<Config> e = ParseConfig("", "/d", {{"CUSTVAULT_SERVER_IO_THREADS", "2x"}});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("server.io_threads"), std::string::npos);
}

TEST(ConfigTest, InvalidTomlIsRefused) {
  EXPECT_FALSE(ParseConfig("[server\nlisten=", "/d", {}).ok());
}

TEST(ConfigTest, PageSizeDefaultMayNotExceedTheMaximum) {
  EXPECT_FALSE(
      ParseConfig("[limits]\npage_size_default = 300\npage_size_max = 100\n", "/d", {}).ok());
}

TEST(ConfigTest, AuditRetentionBelowThreeYearsIsRefused) {  // R-AUD-3
  Result<Config> c = ParseConfig("[audit]\nretention_days = 365\n", "/d", {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("audit.retention_days"), std::string::npos);
  EXPECT_EQ(ParseConfig("", "/d", {})->audit.retention_days, 1096);
}

TEST(ConfigTest, BooleansAcceptOnlyTrueOrFalse) {
  EXPECT_FALSE(ParseConfig("[audit]\nnew_ip_alert = false\n", "/d", {})->audit.new_ip_alert);
  EXPECT_FALSE(ParseConfig("[audit]\nnew_ip_alert = 1\n", "/d", {}).ok());
  EXPECT_FALSE(ParseConfig("", "/d", {{"CUSTVAULT_AUDIT_NEW_IP_ALERT", "yes"}}).ok());
  EXPECT_FALSE(
      ParseConfig("", "/d", {{"CUSTVAULT_AUDIT_NEW_IP_ALERT", "false"}})->audit.new_ip_alert);
}

}  // namespace
}  // namespace custvault
